// Offline mode: the SQL that upgrade() / downgrade() would run, as one script.
#include "migrations_internal.hpp"

#include <asio_soci/errors.hpp>

namespace asio_soci {

namespace {

std::string_view dialect_name(backend dialect) {
    return dialect == backend::postgresql ? "postgresql" : "sqlite";
}

// One migration's script in its transaction, with its version-table bookkeeping.
void append_step(std::string& out, backend dialect, const std::string& file,
                 const std::string& script, const std::string& bookkeeping) {
    out += "\n-- " + file + "\n";
    out += dialect == backend::sqlite3 ? "BEGIN IMMEDIATE;\n" : "BEGIN;\n";
    for (const auto& statement : split_sql_script(script, dialect))
        out += statement.text + ";\n";
    out += bookkeeping + ";\nCOMMIT;\n";
}

// A script's range of revisions, and its opening lines.
struct offline_script {
    std::size_t begin;
    std::size_t end;
    std::string text;
};

offline_script start_script(const migration_set& migrations, std::string_view operation,
                            std::string_view from, std::string_view to, backend dialect,
                            const migration_options& options) {
    if (dialect != backend::postgresql && dialect != backend::sqlite3)
        throw migration_error("migrations support PostgreSQL and SQLite");
    detail::check_table_name(options.version_table);
    return {detail::target_position(migrations, from), detail::target_position(migrations, to),
            "-- asio-soci migrations: " + std::string(operation) + " from " + std::string(from) +
                " to " + std::string(to) + " (" + std::string(dialect_name(dialect)) +
                "), generated offline\n" +
                detail::version_table_ddl(dialect, options.version_table) + ";\n"};
}

}  // namespace

std::string offline_upgrade_sql(const migration_set& migrations, backend dialect,
                                std::string_view from, std::string_view to,
                                const migration_options& options) {
    auto [begin, end, out] = start_script(migrations, "upgrade", from, to, dialect, options);
    for (std::size_t k = begin; k < end; ++k) {
        const auto& m = migrations.migrations()[k];
        append_step(out, dialect, m.file_name(), m.upgrade_sql,
                    "INSERT INTO " + options.version_table +
                        " (revision, name, checksum, applied_at) VALUES ('" + m.revision + "', '" +
                        m.name + "', '" + m.checksum() + "', CURRENT_TIMESTAMP)");
    }
    return out;
}

std::string offline_downgrade_sql(const migration_set& migrations, backend dialect,
                                  std::string_view to, std::string_view from,
                                  const migration_options& options) {
    auto [begin, end, out] = start_script(migrations, "downgrade", from, to, dialect, options);
    for (std::size_t k = begin; k > end; --k) {
        const auto& m = migrations.migrations()[k - 1];
        if (!m.downgrade_sql)
            throw migration_error("cannot downgrade below " + m.revision + ": " +
                                  m.file_name(true) + " does not exist");
        append_step(
            out, dialect, m.file_name(true), *m.downgrade_sql,
            "DELETE FROM " + options.version_table + " WHERE revision = '" + m.revision + "'");
    }
    return out;
}

}  // namespace asio_soci
