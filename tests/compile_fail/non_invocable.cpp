// Must not compile: as_future is given the result of a query instead of a function
// (tornado-sqlalchemy users hit this at run time; here the compiler says it clearly).
// tests/CMakeLists.txt checks for the static_assert's message.
#include <asio_soci/asio_soci.hpp>

asio::awaitable<void> misuse(asio_soci::session& s) {
    int count = 42;
    co_await asio_soci::as_future(s, count);
}
