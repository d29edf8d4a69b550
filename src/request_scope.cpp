#include <asio_soci/request_scope.hpp>

#include <asio/redirect_error.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <algorithm>

#include <stdexcept>
#include <string>

namespace asio_soci {

database_binds::database_binds(
    std::initializer_list<std::pair<std::string, session_factory>> binds) {
    for (const auto& [name, factory] : binds)
        add(name, factory);
}

void database_binds::add(std::string name, session_factory factory) {
    if (!factory)
        throw std::invalid_argument("database_binds: the factory for \"" + name + "\" is empty");
    if (contains(name))
        throw std::invalid_argument("database_binds: \"" + name + "\" is already bound");
    auto copy = table_ ? std::make_shared<table>(*table_) : std::make_shared<table>();
    copy->emplace(std::move(name), std::move(factory));
    table_ = std::move(copy);
}

const session_factory& database_binds::at(std::string_view name) const {
    if (table_) {
        if (auto it = table_->find(name); it != table_->end())
            return it->second;
    }
    throw std::out_of_range("database_binds: no database is bound to \"" + std::string(name) +
                            "\"");
}

bool database_binds::contains(std::string_view name) const noexcept {
    return table_ && table_->find(name) != table_->end();
}

std::string_view database_binds::stored_name(std::string_view name) const {
    at(name);
    return table_->find(name)->first;
}

request_scope::request_scope(session_factory factory)
    : binds_{{std::string(default_bind), std::move(factory)}} {}

request_scope::request_scope(database_binds binds) : binds_(std::move(binds)) {}

request_scope::~request_scope() = default;

void request_scope::release() noexcept {
    sessions_.clear();
}

std::size_t request_scope::session_count() const noexcept {
    return static_cast<std::size_t>(std::distance(sessions_.begin(), sessions_.end()));
}

asio_soci::session* request_scope::find_shared(std::string_view bind) noexcept {
    for (auto& e : sessions_)
        if (e.shared && e.bind == bind)
            return &e.lease;
    return nullptr;
}

asio_soci::session& request_scope::keep(std::string_view bind, bool shared,
                                        asio_soci::session lease) {
    sessions_.push_front(entry{bind, shared, std::move(lease)});
    return sessions_.front().lease;
}

asio::awaitable<std::reference_wrapper<asio_soci::session>> request_scope::session() {
    return session(default_bind);
}

asio::awaitable<std::reference_wrapper<asio_soci::session>> request_scope::session(
    std::string_view bind) {
    const auto name = binds_.stored_name(bind);
    // Another branch of the request may be acquiring the session already (a() && b()):
    // wait for it rather than take a second connection, which a small pool may not have.
    for (;;) {
        if (auto* existing = find_shared(name))
            co_return std::ref(*existing);
        auto pending = std::find_if(acquiring_.begin(), acquiring_.end(),
                                    [&](const auto& entry) { return entry.first == name; });
        if (pending == acquiring_.end())
            break;
        auto done = pending->second;  // cancelled when that acquisition ends, either way
        std::error_code ignored;
        co_await done->async_wait(asio::redirect_error(asio::use_awaitable, ignored));
        if ((co_await asio::this_coro::cancellation_state).cancelled() !=
            asio::cancellation_type::none)
            throw asio::system_error(asio::error::operation_aborted);
    }
    auto done = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor,
                                                     asio::steady_timer::time_point::max());
    acquiring_.emplace_back(name, done);
    struct announce_end {
        std::vector<std::pair<std::string_view, std::shared_ptr<asio::steady_timer>>>& list;
        std::shared_ptr<asio::steady_timer> done;
        ~announce_end() {
            std::erase_if(list, [&](const auto& entry) { return entry.second == done; });
            done->cancel();  // the waiting branches look again: a session, or their turn
        }
    } announcing{acquiring_, done};
    auto lease = co_await binds_.at(name).async_acquire(asio::use_awaitable);
    co_return std::ref(keep(name, true, std::move(lease)));
}

asio::awaitable<std::reference_wrapper<asio_soci::session>> request_scope::make_session(
    std::string_view bind) {
    const auto name = binds_.stored_name(bind);
    auto lease = co_await binds_.at(name).async_acquire(asio::use_awaitable);
    co_return std::ref(keep(name, false, std::move(lease)));
}

}  // namespace asio_soci
