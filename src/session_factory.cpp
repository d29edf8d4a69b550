#include "pool.hpp"

#include <asio_soci/session_factory.hpp>

#include <stdexcept>
#include <thread>

namespace asio_soci {

namespace {

// The last reference may drop on one of the pool's own workers (a handler without an
// associated executor runs there); a pool cannot join the thread it runs on, so that
// destruction moves to a thread of its own.
void destroy_pool(detail::pool* p) noexcept {
    if (p->executor().running_in_this_thread())
        std::thread([p] { delete p; }).detach();
    else
        delete p;
}

}  // namespace

session_factory make_session_factory(const database_url& url, pool_options options) {
    return session_factory{
        std::shared_ptr<detail::pool>(new detail::pool(url, std::move(options)), destroy_pool)};
}

session_factory make_session_factory(std::string_view url, pool_options options) {
    return make_session_factory(database_url::parse(url), std::move(options));
}

const std::shared_ptr<detail::pool>& session_factory::checked_pool() const {
    if (!pool_)
        throw std::logic_error("asio_soci::session_factory: the factory is empty");
    return pool_;
}

pool_stats session_factory::stats() const {
    return checked_pool()->stats();
}
const database_url& session_factory::url() const {
    return checked_pool()->url();
}
const pool_options& session_factory::options() const {
    return checked_pool()->options();
}
session_factory::executor_type session_factory::get_executor() const {
    return checked_pool()->executor();
}

}  // namespace asio_soci
