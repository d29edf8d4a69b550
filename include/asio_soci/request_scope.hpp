// request_scope: the sessions of one request (tornado-sqlalchemy's SessionMixin).
#pragma once

#include <asio_soci/database_binds.hpp>
#include <asio_soci/session.hpp>
#include <asio_soci/session_factory.hpp>

#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>

#include <forward_list>
#include <functional>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

namespace asio_soci {

/// The database sessions of one request. session() lazily acquires a session and
/// returns the same one on every later call; make_session() acquires an independent
/// one. Every session goes back to its pool when the scope is destroyed (normal end,
/// exception, or cancellation of the coroutine that owns it), without blocking, and
/// rolled back if a transaction is still open: nothing is committed implicitly.
///
/// Framework-neutral: create one per request in a coroutine, on the stack.
/// Thread safety: one scope belongs to one request (one strand) at a time.
///
///     asio_soci::request_scope scope{factory};
///     asio_soci::session& s = co_await scope.session();
class request_scope {
public:
    explicit request_scope(session_factory factory);
    explicit request_scope(database_binds binds);
    ~request_scope();
    request_scope(const request_scope&) = delete;
    request_scope& operator=(const request_scope&) = delete;

    /// The scope's session for the default bind, acquired on first use; a call made
    /// while another branch of the request is acquiring it waits for that acquisition
    /// (so a request never holds two connections for one bind, and a pool of one does
    /// not deadlock).
    /// Result: an awaitable (the scope's sessions belong to one coroutine) of a
    /// reference to the session, valid until the scope gives it back (release() or the
    /// scope's end). Executor: resumes on the awaiting coroutine's.
    /// Errors: those of session_factory::async_acquire(), thrown.
    /// Cancellation: the coroutine's (terminal by default, e.g. `||`): as
    /// async_acquire()'s; a call waiting for another branch's acquisition ends with
    /// operation_aborted, and that acquisition goes on for the other branch.
    /// Lifetimes: the scope must outlive the awaitable.
    asio::awaitable<std::reference_wrapper<asio_soci::session>> session();
    /// The scope's session for the named bind; std::out_of_range when unbound.
    asio::awaitable<std::reference_wrapper<asio_soci::session>> session(std::string_view bind);
    /// A new session that is the scope's too, independent of session().
    asio::awaitable<std::reference_wrapper<asio_soci::session>> make_session(
        std::string_view bind = default_bind);

    /// Gives every session back now (they are given back on destruction anyway).
    void release() noexcept;

    /// Sessions this scope holds.
    std::size_t session_count() const noexcept;
    const database_binds& binds() const noexcept { return binds_; }

private:
    struct entry {
        std::string_view bind;  // points into binds_
        bool shared;            // returned by session(), rather than make_session()
        asio_soci::session lease;
    };
    asio_soci::session* find_shared(std::string_view bind) noexcept;
    asio_soci::session& keep(std::string_view bind, bool shared, asio_soci::session lease);

    database_binds binds_;
    std::forward_list<entry> sessions_;
    // session() acquisitions under way, by bind; the timer is cancelled when one ends.
    std::vector<std::pair<std::string_view, std::shared_ptr<asio::steady_timer>>> acquiring_;
};

}  // namespace asio_soci
