// The C++ blocks of docs/models.md, compiled with the tests; check_snippets.cpp keeps the
// docs equal to the regions below.
// The layout is the docs', which show these regions verbatim: not reformatted.
// clang-format off

#include <asio_soci/asio_soci.hpp>
#include <asio_soci/migrate_main.hpp>
#include <asio_soci/model.hpp>

#include <cstdint>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

// [snippet models-declare]
// [hide]
namespace app {
// [show]
struct user {
    std::int64_t id = 0;
    std::string username;
    std::optional<std::string> email;  // std::optional: a nullable column
};

// Found by argument-dependent lookup: declare it in the struct's namespace.
inline const asio_soci::table<user>& table_of(asio_soci::model<user>) {
    namespace sql = asio_soci::sql;
    static const auto table = asio_soci::table<user>("users")
        .column("id", &user::id, sql::bigint, {.primary_key = true, .identity = true})
        .column("username", &user::username, sql::varchar(255), {.unique = true})
        .column("email", &user::email, sql::text, {.index = true});
    return table;
}

// The application's tables (Base.metadata).
inline const asio_soci::metadata& tables() {
    static const auto metadata = asio_soci::metadata::of<user>();
    return metadata;
}
// [hide]
}  // namespace app
// [end]

// [snippet models-create-all]
// [hide]
asio::awaitable<void> start(asio_soci::session_factory& factory) {
    // [show]
    co_await asio_soci::async_create_all(factory, app::tables());  // tables that are missing
    // [hide]
}
// [end]

// [snippet models-rows]
// [hide]
asio::awaitable<long long> add_user(asio_soci::request_scope& scope, std::string name) {
    // [show]
    asio_soci::session& s = co_await scope.session();
    auto count = co_await asio_soci::as_future(s, [&name](soci::session& sql) {
        app::user user;
        user.username = name;
        asio_soci::insert_row(sql, user);  // user.id: the key the database assigned
        auto found = asio_soci::get_by_key<app::user>(sql, user.id);
        auto named = asio_soci::select_where<app::user>(sql, "username like :p order by id",
                                                        std::string("a%"));
        return asio_soci::count_rows<app::user>(sql);
    });
    co_await s.async_commit();
    // [hide]
    co_return count;
}
// [end]

// [snippet models-migrate-main]
// [hide]
namespace app {
// [show]
// app_migrate.cpp: the migrations command line, with the application's models.
int main(int argc, char** argv) {
    return asio_soci::migrate_main(argc, argv, app::tables());
}
// [hide]
}  // namespace app
// [end]

// [snippet models-check]
// [hide]
bool models_match(const asio_soci::session_factory& factory) {
    // [show]
    auto comparison = asio_soci::check_models(factory, app::tables());  // blocks: not on an io thread
    for (const auto& d : comparison.differences)
        std::cerr << d.table << ": " << d.description << '\n';  // "users: column email added"
    // [hide]
    return comparison.up_to_date();
}
// [end]
