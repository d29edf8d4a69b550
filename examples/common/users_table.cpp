#include "users_table.hpp"

#include "server.hpp"

#include "users_postgresql_migrations.hpp"
#include "users_sqlite_migrations.hpp"

namespace example {

asio_soci::migration_set users_migrations(asio_soci::backend dialect) {
    return migrations_for(dialect, users_postgresql_migrations(), users_sqlite_migrations());
}

const asio_soci::table<user>& table_of(asio_soci::model<user>) {
    static const auto table =
        asio_soci::table<user>("users")
            .column("id", &user::id, asio_soci::sql::bigint,
                    {.primary_key = true, .identity = true})
            .column("username", &user::username, asio_soci::sql::varchar(max_username_length),
                    {.unique = true});
    return table;
}

asio_soci::metadata users_models() {
    return asio_soci::metadata::of<user>();
}

long long count_users(soci::session& sql) {
    return asio_soci::count_rows<user>(sql);
}

bool add_user(soci::session& sql, const std::string& username) {
    user added;
    added.username = username;
    return asio_soci::try_insert_row(sql, added);
}

std::optional<std::string> invalid_username(std::string_view username) {
    if (username.empty())
        return "missing username";
    if (username.size() > max_username_length)
        return "username longer than " + std::to_string(max_username_length) + " characters";
    return std::nullopt;
}

}  // namespace example
