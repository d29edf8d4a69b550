// asio_soci::session: a leased, pooled SOCI connection.
#pragma once

#include <asio_soci/detail/access.hpp>
#include <asio_soci/detail/pool_interface.hpp>
#include <asio_soci/detail/session_call.hpp>
#include <asio_soci/detail/transaction.hpp>

#include <asio/use_awaitable.hpp>

#include <memory>
#include <utility>

namespace asio_soci {

/// A move-only RAII lease of one pooled connection, bound to its own strand on the
/// factory's worker threads. Use it through as_future(); the connection itself is only
/// ever touched on the workers.
///
/// Giving it back (destructor, move-assignment, release()) never blocks: when a call
/// still runs on the connection (e.g. after a cancelled as_future) or a transaction is
/// open, the connection goes back only after that call has finished and the
/// transaction has been rolled back, on the worker side. A clean connection goes back
/// at once, with no round trip. A broken connection is closed and its slot reopened
/// when next needed.
///
/// Transactions, as in SQLAlchemy's sessions: the first as_future() call begins one
/// (autobegin), async_commit() or async_rollback() ends it, and the next call begins
/// the next. Nothing is committed implicitly: whatever is uncommitted when the session
/// goes back is rolled back. async_begin() begins one explicitly (on SQLite with the
/// write lock taken up front, for a transaction that reads and then writes). With
/// pool_options::autocommit, calls begin nothing and each statement commits on its
/// own unless async_begin() opened a transaction.
///
/// Thread safety: distinct objects, safe; a shared object, unsafe (like Asio's I/O
/// objects). Calls on one session run one at a time, in submission order.
class session {
public:
    /// An empty session, holding no connection.
    session() noexcept = default;

    session(session&& other) noexcept
        : pool_(std::move(other.pool_)), slot_(std::exchange(other.slot_, nullptr)) {}

    session& operator=(session&& other) noexcept {
        if (this != &other) {
            release();
            pool_ = std::move(other.pool_);
            slot_ = std::exchange(other.slot_, nullptr);
        }
        return *this;
    }

    ~session() { release(); }

    /// True while this session holds a connection.
    explicit operator bool() const noexcept { return slot_ != nullptr; }

    /// Gives the connection back to the pool now (see the class comment); the session
    /// is empty afterwards. Does nothing on an empty session.
    void release() noexcept {
        if (slot_) {
            detail::end_lease(*std::exchange(slot_, nullptr));
            pool_.reset();
        }
    }

    /// Begins a transaction now (SQLite: BEGIN IMMEDIATE, taking the write lock). Fails
    /// with std::logic_error when one is already open (e.g. one that a call began).
    /// Completion signature, executor, cancellation: as for async_commit().
    template <class CompletionToken = asio::use_awaitable_t<>>
    auto async_begin(CompletionToken&& token = {});

    /// Commits the open transaction; does nothing when none is open. On PostgreSQL, a
    /// transaction in which a statement failed cannot commit: it is rolled back and the
    /// operation fails with asio_soci::transaction_failed.
    /// Completion signature: void(std::exception_ptr); executor: as for as_future().
    /// Cancellation: before the COMMIT starts, any type completes it at once with
    /// operation_aborted, and nothing was committed; once it has started, cancellation
    /// is ignored and the real outcome is delivered.
    template <class CompletionToken = asio::use_awaitable_t<>>
    auto async_commit(CompletionToken&& token = {});

    /// Rolls back the open transaction; does nothing when none is open.
    /// Completion signature, executor, cancellation: as for async_commit().
    template <class CompletionToken = asio::use_awaitable_t<>>
    auto async_rollback(CompletionToken&& token = {});

private:
    friend struct detail::access;
    session(std::shared_ptr<detail::pool> pool, detail::connection_slot& slot) noexcept
        : pool_(std::move(pool)), slot_(&slot) {}

    std::shared_ptr<detail::pool> pool_;  // keeps the pool (and its workers) alive
    detail::connection_slot* slot_ = nullptr;
};

template <class CompletionToken>
auto session::async_begin(CompletionToken&& token) {
    return detail::async_session_call(
        *this, [](soci::session& sql) { detail::begin_explicitly(sql); },
        std::forward<CompletionToken>(token), detail::session_call::transaction_control);
}

template <class CompletionToken>
auto session::async_commit(CompletionToken&& token) {
    return detail::async_session_call(
        *this, [](soci::session& sql) { detail::commit_if_open(sql); },
        std::forward<CompletionToken>(token), detail::session_call::transaction_control);
}

template <class CompletionToken>
auto session::async_rollback(CompletionToken&& token) {
    return detail::async_session_call(
        *this, [](soci::session& sql) { detail::rollback_if_open(sql); },
        std::forward<CompletionToken>(token), detail::session_call::transaction_control);
}

}  // namespace asio_soci
