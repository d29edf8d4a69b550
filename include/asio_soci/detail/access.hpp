// detail::access: the library's one way into the private parts of its public classes
// (Boost.MySQL's idiom), instead of public members "for the library".
#pragma once

#include <asio_soci/detail/pool_interface.hpp>

#include <memory>
#include <utility>

namespace asio_soci::detail {

struct access {
    /// The pool of a session_factory or a session (null when empty).
    template <class T>
    static const std::shared_ptr<pool>& pool_of(const T& object) noexcept {
        return object.pool_;
    }
    /// The connection a session leases (null when empty).
    template <class Session>
    static connection_slot* slot_of(const Session& s) noexcept {
        return s.slot_;
    }
    /// A session that owns the lease of `slot`, which the pool has granted.
    template <class Session>
    static Session make_session(std::shared_ptr<pool> owner, connection_slot& slot) noexcept {
        return Session{std::move(owner), slot};
    }
    /// The statements of a pg::batch.
    template <class Batch>
    static auto& statements_of(Batch& b) noexcept {
        return b.statements_;
    }
    /// A session_factory for a new pool.
    template <class Factory>
    static Factory make_factory(std::shared_ptr<pool> owner) noexcept {
        return Factory{std::move(owner)};
    }
};

}  // namespace asio_soci::detail
