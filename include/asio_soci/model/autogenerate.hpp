// Models against a live database (alembic's `revision --autogenerate` and a check for
// CI): the differences, and the migration that removes them, written next to the
// hand-written ones in the format of docs/migrations.md.
#pragma once

#include <asio_soci/migrations.hpp>
#include <asio_soci/model/metadata.hpp>
#include <asio_soci/session_factory.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace soci {
class session;
}

namespace asio_soci {

/// One way in which the database differs from the models.
struct schema_difference {
    std::string table;
    /// What the models have that the database lacks, or the reverse: "column email
    /// added", "column age: type integer, was text", "index ix_users_name removed".
    std::string description;
};

/// The models compared with a database.
struct schema_comparison {
    std::vector<schema_difference> differences;
    /// Tables of the database that the models lack (the version table aside). Left
    /// alone, and no difference, unless autogenerate_options::drop_unknown_tables.
    std::vector<std::string> unknown_tables;

    bool up_to_date() const noexcept { return differences.empty(); }
};

struct autogenerate_options {
    /// The version table, which the comparison ignores (and, for autogenerate_migration,
    /// where the applied migrations are read).
    migration_options migrations{};
    /// Drop the tables of the database that the models lack (they are reported either
    /// way).
    bool drop_unknown_tables = false;
};

/// A migration made from a comparison: its scripts, for the dialect of the database it
/// was compared with.
struct generated_migration {
    schema_comparison comparison;
    std::string upgrade_sql;    ///< makes the database match the models
    std::string downgrade_sql;  ///< undoes it (data in dropped tables and columns is lost)
};

/// Compares `models` with the database of `sql` (PostgreSQL: its current schema).
///
/// Detected: tables and columns added and removed, a column's type (compared in one
/// spelling: int4 is integer, character varying(100) is varchar(100)) and nullability,
/// primary keys, unique constraints, indexes and foreign keys. Defaults are not compared.
schema_comparison compare_models(soci::session& sql, const metadata& models,
                                 const autogenerate_options& options = {});

/// The migration that makes the database of `sql` match `models`, with an upgrade and a
/// downgrade script. On SQLite, what ALTER TABLE cannot do (a changed type, nullability,
/// key or constraint) rebuilds the table: a new one is created, the rows of the columns
/// both have are copied, the old one dropped and the new one renamed (the migration runs
/// this with foreign-key enforcement off and checks the keys before committing).
generated_migration generate_migration(soci::session& sql, const metadata& models,
                                       const autogenerate_options& options = {});

/// generate_migration on a connection of `factory`, written as the next pair of
/// `directory` (`NNNN_<message>.up.sql` and `.down.sql`, with a header saying that they
/// were generated and must be reviewed). Returns the path of the up script, or nothing
/// (and writes nothing) when the database matches the models.
///
/// Refuses, with migration_error, while migrations of `directory` are not applied to the
/// database (upgrade first: the comparison must start from the head) or when the
/// applied ones do not match their files. Blocks the calling thread: never call it on a
/// thread that runs an io_context, nor on a worker of the factory.
std::optional<std::filesystem::path> autogenerate_migration(
    const session_factory& factory, const metadata& models, const std::filesystem::path& directory,
    std::string_view message, const autogenerate_options& options = {});

/// compare_models on a connection of `factory`, blocking the calling thread as
/// autogenerate_migration does.
schema_comparison check_models(const session_factory& factory, const metadata& models,
                               const autogenerate_options& options = {});

}  // namespace asio_soci
