#include "users_table.hpp"

#include "server.hpp"

#include "users_postgresql_migrations.hpp"
#include "users_sqlite_migrations.hpp"

namespace example {

asio_soci::migration_set users_migrations(asio_soci::backend dialect) {
    return migrations_for(dialect, users_postgresql_migrations(), users_sqlite_migrations());
}

long long count_users(soci::session& sql) {
    long long count = 0;
    sql << "select count(*) from users", soci::into(count);
    return count;
}

bool add_user(soci::session& sql, const std::string& username) {
    soci::statement insert = (sql.prepare << "insert into users (username) values (:username) "
                                             "on conflict (username) do nothing",
                              soci::use(username));
    insert.execute(true);
    return insert.get_affected_rows() == 1;
}

std::optional<std::string> invalid_username(std::string_view username) {
    if (username.empty())
        return "missing username";
    if (username.size() > max_username_length)
        return "username longer than " + std::to_string(max_username_length) + " characters";
    return std::nullopt;
}

}  // namespace example
