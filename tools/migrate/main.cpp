// asio-soci-migrate: versioned schema changes from the command line (docs/migrations.md).
//
//   asio-soci-migrate --url URL --dir DIR upgrade [TARGET] | downgrade TARGET | current
//                     | history | stamp REV | new NAME | check | repair
//
// A program with models gets the same command line, and the model commands, from
// asio_soci::migrate_main (docs/models.md).
#include <asio_soci/migrate_main.hpp>

int main(int argc, char** argv) {
    return asio_soci::migrate_main(argc, argv, {.program = "asio-soci-migrate"});
}
