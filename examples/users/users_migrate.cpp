// The users example's migrations command line: asio-soci-migrate's commands, plus those
// that need the program's models (autogenerate, check-models, create-all). The files of
// examples/common/migrations/users/ were written by it:
//
//   users_migrate --url sqlite:///fresh.db --dir examples/common/migrations/users/sqlite
//       autogenerate create_users
//
// (one line), and the same with a PostgreSQL URL for .../users/postgresql.
#include "../common/users_table.hpp"

#include <asio_soci/migrate_main.hpp>

int main(int argc, char** argv) {
    return asio_soci::migrate_main(argc, argv, example::users_models());
}
