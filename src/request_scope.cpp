#include <asio_soci/request_scope.hpp>

#include <asio/use_awaitable.hpp>

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
    if (auto* existing = find_shared(name))
        co_return std::ref(*existing);
    auto lease = co_await binds_.at(name).async_acquire(asio::use_awaitable);
    // Two calls may have raced to acquire: the first to finish wins, the other lease
    // stays in the scope (released at its end) so no reference handed out dangles.
    if (auto* existing = find_shared(name)) {
        keep(name, false, std::move(lease));
        co_return std::ref(*existing);
    }
    co_return std::ref(keep(name, true, std::move(lease)));
}

asio::awaitable<std::reference_wrapper<asio_soci::session>> request_scope::make_session(
    std::string_view bind) {
    const auto name = binds_.stored_name(bind);
    auto lease = co_await binds_.at(name).async_acquire(asio::use_awaitable);
    co_return std::ref(keep(name, false, std::move(lease)));
}

}  // namespace asio_soci
