// The migrations command line (migrate_main.hpp): asio-soci-migrate, and the same with a
// program's models.
//
// Exit codes: 0 success; 1 `check` found pending migrations, `check-models` differences;
// 2 usage error (bad arguments, bad or missing URL); 3 migrations refused or failed (bad
// files, checksum mismatch, missing or out-of-order revisions, a failing migration,
// autogenerate while migrations are pending); 4 database error (cannot connect, or a
// query outside a migration failed).
#include <asio_soci/errors.hpp>
#include <asio_soci/migrate_main.hpp>
#include <asio_soci/migrations.hpp>
#include <asio_soci/model/autogenerate.hpp>
#include <asio_soci/model/metadata.hpp>
#include <asio_soci/session_factory.hpp>

#include <soci/soci.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <asio/use_future.hpp>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

namespace asio_soci {

namespace {

enum exit_code : int {
    success = 0,
    differences_found = 1,
    usage_error = 2,
    migration_failed = 3,
    database_failed = 4,
};

const char* exit_codes_help =
    "Exit codes:\n"
    "  0  success\n"
    "  1  check: migrations are pending; check-models: the database differs from the models\n"
    "  2  usage error (bad arguments, bad or missing database URL)\n"
    "  3  migrations refused or failed (bad file names, a gap in the numbering, an applied\n"
    "     file that changed, an applied revision with no file, a failing migration,\n"
    "     autogenerate while migrations are pending)\n"
    "  4  database error (cannot connect, a query outside a migration failed)\n"
    "\n"
    "Migration files in DIR: <number>_<name>.up.sql and optionally <number>_<name>.down.sql,\n"
    "numbered 1, 2, 3, ... without gaps. TARGET/REV: a revision number, 'head' or 'base'.";

struct arguments {
    std::string url;
    std::string dir;
    std::string table = migration_options{}.version_table;
    bool offline = false;
    std::string from;
    bool verbose = false;
    double wait_for_database_s = 0;
    std::string target = std::string(head_revision);  // upgrade, downgrade, stamp
    std::string name;                                 // new, autogenerate
    bool drop_unknown_tables = false;                 // autogenerate, check-models
    bool stamp = false;                               // create-all
};

class command_line {
public:
    command_line(std::string program, const metadata* models)
        : program_(std::move(program)), models_(models) {}

    int run(int argc, char** argv, const std::string& default_directory);

private:
    // Errors are one line on stderr.
    int fail(int code, std::string_view message) const {
        std::cerr << program_
                  << ": error: " << log_message(std::runtime_error(std::string(message)), true)
                  << '\n';
        return code;
    }
    static std::string display(const std::optional<std::string>& revision) {
        return revision ? *revision : std::string(base_revision);
    }

    void define(CLI::App& app);
    int execute(const std::string& command);
    int run_offline(const std::string& command, const migration_set& set,
                    const migration_options& options) const;
    int run_models(const std::string& command, const session_factory& factory,
                   const migrator& migrations, const migration_options& options) const;
    int run_migrations(const std::string& command, const migration_set& set,
                       const migrator& migrations) const;

    std::string program_;
    const metadata* models_;
    arguments args_;
};

void command_line::define(CLI::App& app) {
    app.footer(exit_codes_help);
    app.require_subcommand(1);
    app.fallthrough();  // the global options may also follow the command
    app.add_option("--url", args_.url,
                   "Database URL, e.g. postgresql://user:pw@host/db or sqlite:///app.db")
        ->envname("ASIO_SOCI_DATABASE_URL");
    app.add_option("--dir", args_.dir, "Directory of migration files")->capture_default_str();
    app.add_option("--table", args_.table, "Version table")->capture_default_str();
    app.add_flag("--sql", args_.offline,
                 "upgrade/downgrade: print the SQL instead of running it (offline; the URL only "
                 "selects the dialect)");
    app.add_option("--from", args_.from,
                   "With --sql: the revision the database is at (default: base for upgrade, head "
                   "for downgrade)");
    app.add_flag("-v,--verbose", args_.verbose, "Log each migration as it runs, on stderr");
    app.add_option("--wait-for-database", args_.wait_for_database_s,
                   "Seconds to keep retrying while the database cannot be reached (started "
                   "next to it), with backoff; 0: fail at once")
        ->check(CLI::Range(0.0, 86400.0))
        ->capture_default_str();

    app.add_subcommand("upgrade", "Apply pending migrations up to TARGET (default head)")
        ->add_option("TARGET", args_.target, "Revision number or head");
    app.add_subcommand("downgrade", "Revert applied migrations above TARGET")
        ->add_option("TARGET", args_.target, "Revision number or base")
        ->required();
    app.add_subcommand("current", "Print the current revision (base when none is applied)");
    app.add_subcommand("history", "List every revision: applied, pending, changed or missing");
    app.add_subcommand("stamp", "Record REV as the current revision without running anything")
        ->add_option("REV", args_.target, "Revision number, head or base")
        ->required();
    app.add_subcommand("new", "Create the next numbered pair of files NAME.up.sql/.down.sql")
        ->add_option("NAME", args_.name, "Letters, digits, '_' and '-'")
        ->required();
    app.add_subcommand("check",
                       "Exit 1 when migrations are pending, 3 when the database does not match "
                       "the files");
    app.add_subcommand("repair",
                       "Re-record checksums of changed applied files; drop rows with no file");
    if (!models_)
        return;
    auto* autogenerate = app.add_subcommand(
        "autogenerate",
        "Write the next migration pair from the differences between the models and the "
        "database (which must be at the head); review it before applying it");
    autogenerate
        ->add_option("MESSAGE", args_.name, "The migration's name: letters, digits, '_', '-'")
        ->required();
    autogenerate->add_flag("--drop-unknown-tables", args_.drop_unknown_tables,
                           "Also drop the tables that the models lack (reported either way)");
    app.add_subcommand("check-models",
                       "Print the differences between the models and the database; exit 1 when "
                       "there are some")
        ->add_flag("--drop-unknown-tables", args_.drop_unknown_tables,
                   "Count the tables that the models lack as differences");
    app.add_subcommand("create-all",
                       "Create the models' tables that do not exist, in one transaction")
        ->add_flag("--stamp", args_.stamp,
                   "Then record the migrations' head as applied (a new database that will "
                   "evolve by migrations)");
}

int command_line::run_offline(const std::string& command, const migration_set& set,
                              const migration_options& options) const {
    const auto dialect = database_url::parse(args_.url).backend();
    if (command == "upgrade") {
        const std::string from = args_.from.empty() ? std::string(base_revision) : args_.from;
        std::cout << offline_upgrade_sql(set, dialect, from, args_.target, options);
    } else {
        const std::string from = args_.from.empty() ? std::string(head_revision) : args_.from;
        std::cout << offline_downgrade_sql(set, dialect, args_.target, from, options);
    }
    return success;
}

void print(const schema_comparison& comparison) {
    for (const auto& d : comparison.differences)
        std::cout << d.table << ": " << d.description << '\n';
    for (const auto& table : comparison.unknown_tables)
        std::cout << "note: table " << table
                  << " is in the database, not in the models (left alone; "
                     "--drop-unknown-tables drops it)\n";
}

int command_line::run_models(const std::string& command, const session_factory& factory,
                             const migrator& migrations, const migration_options& options) const {
    const autogenerate_options generate{.migrations = options,
                                        .drop_unknown_tables = args_.drop_unknown_tables};
    if (command == "autogenerate") {
        const auto written =
            autogenerate_migration(factory, *models_, args_.dir, args_.name, generate);
        if (!written) {
            std::cout << "the database matches the models: nothing written\n";
            return success;
        }
        std::cout << "wrote " << written->string() << " and its .down.sql; review them, then "
                  << "upgrade\n";
        return success;
    }
    if (command == "check-models") {
        const auto comparison = check_models(factory, *models_, generate);
        print(comparison);
        if (comparison.up_to_date()) {
            std::cout << "the database matches the models\n";
            return success;
        }
        return differences_found;
    }
    // create-all
    async_create_all(factory, *models_, asio::use_future).get();
    std::cout << "created the tables that did not exist\n";
    if (args_.stamp) {
        migrations.stamp(head_revision);
        std::cout << "stamped; current revision: " << display(migrations.current()) << '\n';
    }
    return success;
}

int command_line::run_migrations(const std::string& command, const migration_set& set,
                                 const migrator& migrations) const {
    if (command == "upgrade" || command == "downgrade") {
        const bool up = command == "upgrade";
        const auto done =
            up ? migrations.upgrade(args_.target) : migrations.downgrade(args_.target);
        for (const auto& revision : done)
            std::cout << (up ? "applied " : "reverted ") << set.find(revision)->file_name(!up)
                      << '\n';
        if (done.empty())
            std::cout << "nothing to do\n";
        std::cout << "current revision: " << display(migrations.current()) << '\n';
    } else if (command == "current") {
        std::cout << display(migrations.current()) << '\n';
    } else if (command == "history") {
        for (const auto& status : migrations.history()) {
            std::cout << status.revision << "  " << status.name << "  " << to_string(status.status);
            if (status.applied_at)
                std::cout << "  " << *status.applied_at;
            std::cout << '\n';
        }
    } else if (command == "stamp") {
        migrations.stamp(args_.target);
        std::cout << "stamped; current revision: " << display(migrations.current()) << '\n';
    } else if (command == "check") {
        migrations.verify();
        const auto pending = migrations.pending();
        if (pending.empty()) {
            std::cout << "up to date at " << display(migrations.current()) << '\n';
            return success;
        }
        std::cout << pending.size() << " pending:";
        for (const auto& m : pending)
            std::cout << ' ' << m.file_name();
        std::cout << '\n';
        return differences_found;
    } else if (command == "repair") {
        const auto result = migrations.repair();
        for (const auto& revision : result.checksums_updated)
            std::cout << "checksum re-recorded: " << revision << '\n';
        for (const auto& revision : result.rows_removed)
            std::cout << "row removed: " << revision << '\n';
        if (result.checksums_updated.empty() && result.rows_removed.empty())
            std::cout << "nothing to repair\n";
    }
    return success;
}

int command_line::execute(const std::string& command) {
    if (command == "new") {
        const auto created = create_migration_files(args_.dir, args_.name);
        std::cout << "created " << created.string() << " and its .down.sql\n";
        return success;
    }
    if (args_.url.empty())
        return fail(usage_error, "no database URL: pass --url or set ASIO_SOCI_DATABASE_URL");
    // autogenerate starts a directory; the others need one.
    const auto set = command == "autogenerate" && !std::filesystem::exists(args_.dir)
                         ? migration_set()
                         : migration_set::from_directory(args_.dir);
    const migration_options options{.version_table = args_.table,
                                    .wait_for_database = std::chrono::milliseconds{
                                        static_cast<long long>(args_.wait_for_database_s * 1000)}};
    if (args_.offline) {
        if (command != "upgrade" && command != "downgrade")
            return fail(usage_error, "--sql applies to upgrade and downgrade only");
        return run_offline(command, set, options);
    }

    // Not registered: migrate_main may run more than once in a process.
    auto logger = std::make_shared<spdlog::logger>(
        program_, std::make_shared<spdlog::sinks::stderr_sink_mt>());
    // Errors are reported once, by run(); -v shows the progress.
    logger->set_level(args_.verbose ? spdlog::level::info : spdlog::level::off);
    auto factory = make_session_factory(
        args_.url, {.pool_size = 1, .acquire_timeout = std::chrono::minutes{10}, .logger = logger});
    const migrator migrations{factory, set, options};
    if (command == "autogenerate" || command == "check-models" || command == "create-all")
        return run_models(command, factory, migrations, options);
    return run_migrations(command, set, migrations);
}

int command_line::run(int argc, char** argv, const std::string& default_directory) {
    CLI::App app{program_ + ": versioned schema changes for PostgreSQL and SQLite"};
    app.name(program_);
    args_.dir = default_directory;
    define(app);
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        // A word that is no command is left over: name it rather than "A subcommand is
        // required".
        if (app.get_subcommands().empty() && !app.remaining().empty()) {
            std::string commands;
            for (const auto* sub : app.get_subcommands({}))
                commands += (commands.empty() ? "" : ", ") + sub->get_name();
            return fail(usage_error, "unknown command \"" + app.remaining().front() +
                                         "\" (commands: " + commands + "; see --help)");
        }
        return fail(usage_error, std::string(e.what()) + " (see --help)");
    }
    try {
        return execute(app.get_subcommands().front()->get_name());
    } catch (const migration_error& e) {
        return fail(migration_failed, e.what());
    } catch (const url_error& e) {
        return fail(usage_error, e.what());
    } catch (const std::exception& e) {  // connection_error and the database's others
        return fail(database_failed, e.what());
    }
}

std::string program_name(int argc, char** argv, const migrate_main_options& options) {
    if (!options.program.empty())
        return options.program;
    if (argc > 0 && argv[0] && *argv[0])
        return std::filesystem::path(argv[0]).filename().string();
    return "migrate";
}

}  // namespace

int migrate_main(int argc, char** argv, const metadata& models,
                 const migrate_main_options& options) {
    return command_line(program_name(argc, argv, options), &models)
        .run(argc, argv, options.directory);
}

int migrate_main(int argc, char** argv, const migrate_main_options& options) {
    return command_line(program_name(argc, argv, options), nullptr)
        .run(argc, argv, options.directory);
}

}  // namespace asio_soci
