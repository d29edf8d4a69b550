// The users table of tornado-sqlalchemy's example (id, username unique), shared by the example
// servers: declared once as a model (<asio_soci/model.hpp>), read and written through
// the typed statements. Its schema comes from migrations generated from the model
// (examples/common/migrations/users/, written by users_migrate's autogenerate), applied
// at start-up; the functions taking soci::session& run on the pool's workers, inside
// as_future().
#pragma once

#include <asio_soci/database_url.hpp>
#include <asio_soci/migrations.hpp>
#include <asio_soci/model.hpp>

#include <soci/soci.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace example {

/// The longest accepted user name (the column is varchar(255), as tornado-sqlalchemy's
/// String(255)).
inline constexpr std::size_t max_username_length = 255;

/// A row of the users table (tornado-sqlalchemy's `User` model).
struct user {
    std::int64_t id = 0;
    std::string username;
};
/// Its declaration: id bigint, assigned by the database; username varchar(255), unique.
const asio_soci::table<user>& table_of(asio_soci::model<user>);

/// The example's models: the users table (for create_all, check-models, autogenerate).
asio_soci::metadata users_models();

/// The migrations that create the users table on `dialect` (PostgreSQL or SQLite, which
/// declare a database-assigned id differently). Embedded in the binary at build time.
asio_soci::migration_set users_migrations(asio_soci::backend dialect);

/// select count(*) from users.
long long count_users(soci::session& sql);

/// Inserts `username`; false when it is taken already. Race-free: the unique
/// constraint decides (insert ... on conflict do nothing, PostgreSQL and SQLite).
bool add_user(soci::session& sql, const std::string& username);

/// Why `username` cannot be added, or nothing when it can.
std::optional<std::string> invalid_username(std::string_view username);

}  // namespace example
