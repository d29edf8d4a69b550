// The users table of the seed's example (id, username unique), shared by the example
// servers. The functions taking soci::session& run on the pool's workers, inside
// as_future(); the table name is checked by example::checked_identifier().
#pragma once

#include <soci/soci.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace example {

/// The longest accepted user name (the column is varchar(100)).
inline constexpr std::size_t max_username_length = 100;

/// `create table if not exists <table> (id, username unique)`. (Migrations come later.)
void create_users_table(soci::session& sql, const std::string& table);

/// select count(*) from <table>.
long long count_users(soci::session& sql, const std::string& table);

/// Inserts `username`; false when it is taken already. Race-free: the unique
/// constraint decides (insert ... on conflict do nothing, PostgreSQL and SQLite).
bool add_user(soci::session& sql, const std::string& table, const std::string& username);

/// Why `username` cannot be added, or nothing when it can.
std::optional<std::string> invalid_username(std::string_view username);

}  // namespace example
