#include "core/pool.hpp"

#include <asio_soci/session_factory.hpp>

#include <asio/detail/thread_context.hpp>

#include <spdlog/spdlog.h>

#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

namespace asio_soci {

namespace {

// Destroying a pool waits for the work still queued on its connections (a rollback after
// a released session, a call whose session went with its coroutine). The last reference
// may drop on a thread that runs an io_context, which must never wait for the database,
// or on one of the pool's own workers (a handler with no associated executor completes
// there), which cannot join itself. There, a pool that is not idle is destroyed on a
// thread of its own, joined at the latest at exit; elsewhere (the main thread after
// io_context::run() has returned), destruction waits, so the pool is closed when the
// last reference is gone.
class pool_reaper {
public:
    static pool_reaper& instance() {
        static pool_reaper reaper;
        return reaper;
    }

    void destroy_later(detail::pool* p) {
        std::lock_guard lock{mutex_};
        threads_.emplace_back([p] { delete p; });
    }

    ~pool_reaper() {
        std::lock_guard lock{mutex_};
        for (auto& t : threads_)
            t.join();
    }

private:
    std::mutex mutex_;
    std::vector<std::thread> threads_;
};

// True on a thread inside an Asio scheduler's run loop (an io_context's or a
// thread_pool's): Asio keeps a per-thread stack of the contexts a thread runs.
bool inside_an_event_loop() noexcept {
    return asio::detail::thread_context::top_of_thread_call_stack() != nullptr;
}

void destroy_pool(detail::pool* p) noexcept {
    if (p->executor().running_in_this_thread() || (inside_an_event_loop() && !p->idle()))
        pool_reaper::instance().destroy_later(p);
    else
        delete p;
}

}  // namespace

session_factory make_session_factory(const database_url& url, pool_options options) {
    // Static objects die in reverse order of construction: the reaper, constructed after
    // spdlog's registry, joins its threads (which log) before the registry goes.
    spdlog::default_logger();
    pool_reaper::instance();
    return detail::access::make_factory<session_factory>(
        std::shared_ptr<detail::pool>(new detail::pool(url, std::move(options)), destroy_pool));
}

session_factory make_session_factory(std::string_view url, pool_options options) {
    return make_session_factory(database_url::parse(url), std::move(options));
}

const std::shared_ptr<detail::pool>& session_factory::checked_pool() const {
    if (!pool_)
        std::rethrow_exception(detail::empty_factory());
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
