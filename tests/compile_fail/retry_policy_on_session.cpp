// Must not compile: a retry_policy given to the session form, whose calls cannot be
// rerun (the policy would be taken as a completion token: pages of template errors).
// tests/CMakeLists.txt checks for the static_assert's message.
#include <asio_soci/asio_soci.hpp>

asio::awaitable<void> misuse(asio_soci::session& s) {
    co_await asio_soci::as_future(
        s, [](soci::session&) {}, asio_soci::retry_policy{});
}
