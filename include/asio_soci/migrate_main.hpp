// The migrations command line (docs/migrations.md) as one call, for the user's own
// program: with its models, it also autogenerates migrations, checks the models against
// the database and creates the tables (docs/models.md).
#pragma once

#include <string>

namespace asio_soci {

class metadata;

struct migrate_main_options {
    /// The name in messages and --help; empty: argv[0]'s file name.
    std::string program{};
    /// The directory of migration files when --dir is not given.
    std::string directory = "migrations";
};

/// Runs the command that `argv` names and returns the process's exit code: upgrade,
/// downgrade, current, history, stamp, new, check, repair, and, given `models`,
///
/// - `autogenerate MESSAGE [--drop-unknown-tables]`: writes the next migration pair from
///   the differences between the models and the database (see autogenerate_migration);
/// - `check-models`: prints the differences; exit code 1 when there are some;
/// - `create-all [--stamp]`: creates the models' tables that do not exist (create_all, in
///   one transaction); --stamp then records the migrations' head as applied.
///
/// The database URL comes from --url or ASIO_SOCI_DATABASE_URL. `--help` lists the
/// commands and exit codes. Errors are printed as one line on stderr, never with a
/// password. Blocks the calling thread; call it from main().
///
/// ```cpp
/// int main(int argc, char** argv) {
///     return asio_soci::migrate_main(argc, argv, app::models());
/// }
/// ```
int migrate_main(int argc, char** argv, const metadata& models,
                 const migrate_main_options& options = {});
/// The same without models: what the asio-soci-migrate tool runs.
int migrate_main(int argc, char** argv, const migrate_main_options& options = {});

}  // namespace asio_soci
