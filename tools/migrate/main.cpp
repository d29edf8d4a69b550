// asio-soci-migrate: versioned schema changes from the command line (docs/migrations.md).
//
//   asio-soci-migrate --url URL --dir DIR upgrade [TARGET] | downgrade TARGET | current
//                     | history | stamp REV | new NAME | check | repair
//
// Exit codes: 0 success; 1 `check` found pending migrations; 2 usage error (bad
// arguments, bad or missing URL); 3 migrations refused or failed (bad files, checksum
// mismatch, missing or out-of-order revisions, a failing migration); 4 database error
// (cannot connect, or a query outside a migration failed).
#include <asio_soci/errors.hpp>
#include <asio_soci/migrations.hpp>
#include <asio_soci/session_factory.hpp>

#include <soci/soci.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>

namespace {

enum exit_code : int {
    success = 0,
    pending_found = 1,
    usage_error = 2,
    migration_failed = 3,
    database_failed = 4,
};

constexpr const char* program = "asio-soci-migrate";

const char* exit_codes_help =
    "Exit codes:\n"
    "  0  success\n"
    "  1  check: migrations are pending\n"
    "  2  usage error (bad arguments, bad or missing database URL)\n"
    "  3  migrations refused or failed (bad file names, a gap in the numbering, an applied\n"
    "     file that changed, an applied revision with no file, a failing migration)\n"
    "  4  database error (cannot connect, a query outside a migration failed)\n"
    "\n"
    "Migration files in DIR: <number>_<name>.up.sql and optionally <number>_<name>.down.sql,\n"
    "numbered 1, 2, 3, ... without gaps. TARGET/REV: a revision number, 'head' or 'base'.";

// Errors are one line on stderr.
int fail(int code, std::string_view message) {
    std::cerr << program << ": error: "
              << asio_soci::log_message(std::runtime_error(std::string(message)), true) << '\n';
    return code;
}

struct arguments {
    std::string url;
    std::string dir = "migrations";
    std::string table = asio_soci::migration_options{}.version_table;
    bool offline = false;
    std::string from;
    bool verbose = false;
    double wait_for_database_s = 0;
    std::string target;  // upgrade, downgrade, stamp
    std::string name;    // new
};

std::string display(const std::optional<std::string>& revision) {
    return revision ? *revision : std::string(asio_soci::base_revision);
}

int run_offline(const std::string& command, const arguments& args,
                const asio_soci::migration_set& set, const asio_soci::migration_options& options) {
    const auto dialect = asio_soci::database_url::parse(args.url).backend();
    if (command == "upgrade") {
        const std::string from =
            args.from.empty() ? std::string(asio_soci::base_revision) : args.from;
        std::cout << asio_soci::offline_upgrade_sql(set, dialect, from, args.target, options);
    } else {
        const std::string from =
            args.from.empty() ? std::string(asio_soci::head_revision) : args.from;
        std::cout << asio_soci::offline_downgrade_sql(set, dialect, args.target, from, options);
    }
    return success;
}

int run(const std::string& command, const arguments& args) {
    if (command == "new") {
        const auto created = asio_soci::create_migration_files(args.dir, args.name);
        std::cout << "created " << created.string() << " and its .down.sql\n";
        return success;
    }
    if (args.url.empty())
        return fail(usage_error, "no database URL: pass --url or set ASIO_SOCI_DATABASE_URL");
    const auto set = asio_soci::migration_set::from_directory(args.dir);
    const asio_soci::migration_options options{
        .version_table = args.table,
        .wait_for_database =
            std::chrono::milliseconds{static_cast<long long>(args.wait_for_database_s * 1000)}};
    if (args.offline) {
        if (command != "upgrade" && command != "downgrade")
            return fail(usage_error, "--sql applies to upgrade and downgrade only");
        return run_offline(command, args, set, options);
    }

    auto logger = spdlog::stderr_logger_mt("asio-soci-migrate");
    // Errors are reported once, by main(); -v shows the progress.
    logger->set_level(args.verbose ? spdlog::level::info : spdlog::level::off);
    auto factory = asio_soci::make_session_factory(
        args.url, {.pool_size = 1, .acquire_timeout = std::chrono::minutes{10}, .logger = logger});
    asio_soci::migrator migrator{factory, set, options};

    if (command == "upgrade" || command == "downgrade") {
        const bool up = command == "upgrade";
        const auto done = up ? migrator.upgrade(args.target) : migrator.downgrade(args.target);
        for (const auto& revision : done) {
            const auto* m = set.find(revision);
            std::cout << (up ? "applied " : "reverted ") << m->file_name(!up) << '\n';
        }
        if (done.empty())
            std::cout << "nothing to do\n";
        std::cout << "current revision: " << display(migrator.current()) << '\n';
    } else if (command == "current") {
        std::cout << display(migrator.current()) << '\n';
    } else if (command == "history") {
        for (const auto& status : migrator.history()) {
            std::cout << status.revision << "  " << status.name << "  "
                      << asio_soci::to_string(status.status);
            if (status.applied_at)
                std::cout << "  " << *status.applied_at;
            std::cout << '\n';
        }
    } else if (command == "stamp") {
        migrator.stamp(args.target);
        std::cout << "stamped; current revision: " << display(migrator.current()) << '\n';
    } else if (command == "check") {
        migrator.verify();
        const auto pending = migrator.pending();
        if (pending.empty()) {
            std::cout << "up to date at " << display(migrator.current()) << '\n';
            return success;
        }
        std::cout << pending.size() << " pending:";
        for (const auto& m : pending)
            std::cout << ' ' << m.file_name();
        std::cout << '\n';
        return pending_found;
    } else if (command == "repair") {
        const auto result = migrator.repair();
        for (const auto& revision : result.checksums_updated)
            std::cout << "checksum re-recorded: " << revision << '\n';
        for (const auto& revision : result.rows_removed)
            std::cout << "row removed: " << revision << '\n';
        if (result.checksums_updated.empty() && result.rows_removed.empty())
            std::cout << "nothing to repair\n";
    }
    return success;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"asio-soci-migrate: versioned schema changes for PostgreSQL and SQLite"};
    app.footer(exit_codes_help);
    app.require_subcommand(1);
    app.fallthrough();  // the global options may also follow the command

    arguments args;
    app.add_option("--url", args.url,
                   "Database URL, e.g. postgresql://user:pw@host/db or sqlite:///app.db")
        ->envname("ASIO_SOCI_DATABASE_URL");
    app.add_option("--dir", args.dir, "Directory of migration files")->capture_default_str();
    app.add_option("--table", args.table, "Version table")->capture_default_str();
    app.add_flag("--sql", args.offline,
                 "upgrade/downgrade: print the SQL instead of running it (offline; the URL only "
                 "selects the dialect)");
    app.add_option("--from", args.from,
                   "With --sql: the revision the database is at (default: base for upgrade, head "
                   "for downgrade)");
    app.add_flag("-v,--verbose", args.verbose, "Log each migration as it runs, on stderr");
    app.add_option("--wait-for-database", args.wait_for_database_s,
                   "Seconds to keep retrying while the database cannot be reached (started "
                   "next to it), with backoff; 0: fail at once")
        ->check(CLI::Range(0.0, 86400.0))
        ->capture_default_str();

    args.target = std::string(asio_soci::head_revision);
    app.add_subcommand("upgrade", "Apply pending migrations up to TARGET (default head)")
        ->add_option("TARGET", args.target, "Revision number or head");
    app.add_subcommand("downgrade", "Revert applied migrations above TARGET")
        ->add_option("TARGET", args.target, "Revision number or base")
        ->required();
    app.add_subcommand("current", "Print the current revision (base when none is applied)");
    app.add_subcommand("history", "List every revision: applied, pending, changed or missing");
    app.add_subcommand("stamp", "Record REV as the current revision without running anything")
        ->add_option("REV", args.target, "Revision number, head or base")
        ->required();
    app.add_subcommand("new", "Create the next numbered pair of files NAME.up.sql/.down.sql")
        ->add_option("NAME", args.name, "Letters, digits, '_' and '-'")
        ->required();
    app.add_subcommand("check",
                       "Exit 1 when migrations are pending, 3 when the database does not match "
                       "the files");
    app.add_subcommand("repair",
                       "Re-record checksums of changed applied files; drop rows with no file");

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        // A word that is no command is left over: name it rather than "A subcommand is
        // required".
        if (app.get_subcommands().empty() && !app.remaining().empty())
            return fail(usage_error, "unknown command \"" + app.remaining().front() +
                                         "\" (commands: upgrade, downgrade, current, history, "
                                         "stamp, new, check, repair; see --help)");
        return fail(usage_error, std::string(e.what()) + " (see --help)");
    }

    const std::string command = app.get_subcommands().front()->get_name();
    try {
        return run(command, args);
    } catch (const asio_soci::migration_error& e) {
        return fail(migration_failed, e.what());
    } catch (const asio_soci::url_error& e) {
        return fail(usage_error, e.what());
    } catch (const asio_soci::connection_error& e) {
        return fail(database_failed, e.what());
    } catch (const std::exception& e) {
        return fail(database_failed, e.what());
    }
}
