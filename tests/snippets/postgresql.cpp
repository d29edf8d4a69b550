// The C++ blocks of docs/postgresql.md and the README's zero-hop section, compiled with
// the tests; check_snippets.cpp keeps the docs equal to the regions below.
// The layout is the docs', which show these regions verbatim: not reformatted.
// clang-format off

#include <asio_soci/asio_soci.hpp>
#include <asio_soci/postgresql.hpp>

#include <optional>
#include <string>
#include <vector>

// [snippet zero-hop]
// [hide]
asio::awaitable<std::vector<std::string>> rename(asio_soci::request_scope& scope, long long id,
                                                 std::string name) {
    // [show]
    asio_soci::session& s = co_await scope.session();
    auto users = co_await asio_soci::pg::async_query(
        s, "select id, name from users where id >= $1 order by id", id);
    std::vector<std::string> names;
    for (auto user : users)
        names.push_back(user.get<std::string>("name"));
    co_await asio_soci::pg::async_query(s, "update users set name = $1 where id = $2", name, id);
    co_await s.async_commit();
    // [hide]
    co_return names;
}
// [end]

// [snippet pg-values]
// [hide]
asio::awaitable<void> values(asio_soci::session& s) {
    // [show]
    auto r = co_await asio_soci::pg::async_query(s, "select id, email, created_at from users");
    for (auto row : r) {
        auto id = row.get<long long>(0);                           // by position
        auto email = row.get<std::optional<std::string>>("email"); // NULL: std::nullopt
        auto created = row.get<std::chrono::system_clock::time_point>("created_at");
        // [hide]
        (void)id, (void)email, (void)created;
        // [show]
    }
    r.affected_rows();  // inserted / updated / deleted / selected
    // [hide]
}
// [end]

// [snippet pg-batch]
// [hide]
asio::awaitable<std::vector<int>> random_numbers(asio_soci::session& s, std::vector<int> ids) {
    std::vector<int> numbers;
    // [show]
    asio_soci::pg::batch selects;
    for (int id : ids)
        selects.add("select randomnumber from world where id = $1", id);
    try {
        auto results = co_await asio_soci::pg::async_execute(s, std::move(selects));
        for (const auto& r : results)  // one per statement, in order
            numbers.push_back(r.front().get<int>(0));
    } catch (const asio_soci::pg::batch_error& e) {
        // e.index(): the statement that failed; e.sqlstate(); its own error is nested:
        // std::rethrow_if_nested(e) throws it (unique_violation, soci::soci_error...).
    }
    // [hide]
    co_return numbers;
}
// [end]

// [snippet pg-factory]
// [hide]
asio::awaitable<std::string> user_name(const asio_soci::session_factory& factory, long long id) {
    // [show]
    auto r = co_await asio_soci::pg::async_query(factory, "select name from users where id = $1", id);
    // [hide]
    co_return r.front().get<std::string>(0);
}
// [end]
