// Per-connection state: objects that live as long as one pooled connection, such as
// prepared statements and the variables they are bound to.
#pragma once

#include <memory>
#include <typeindex>
#include <typeinfo>

namespace soci {
class session;
}

namespace asio_soci {

namespace detail {

using state_deleter = void (*)(void*) noexcept;

// The object of type `type` kept with `sql`, or null when there is none yet. Throws
// std::logic_error unless called on a worker inside a call on the pooled `sql`.
void* find_connection_state(soci::session& sql, std::type_index type);
// True inside a call that as_future() runs on `sql`, where connection_state() works.
bool keeps_connection_state(soci::session& sql) noexcept;
// Keeps `object` with `sql` until the connection closes; returns it.
void* keep_connection_state(soci::session& sql, std::type_index type, void* object,
                            state_deleter destroy);

}  // namespace detail

/// The object of type `T` kept with the pooled connection `sql`: made as `T(sql)` the
/// first time a call on this connection asks for it, then the same object for every
/// later call on the same connection, whichever request makes it; destroyed just before
/// the connection is closed (recycled, found broken, or the pool destroyed).
///
/// Made for SOCI statement reuse: a prepared soci::statement bound to members of `T`
/// is prepared once per connection (on PostgreSQL: parsed and planned once) instead of
/// once per call.
///
/// ```cpp
/// struct find_user {
///     explicit find_user(soci::session& sql)
///         : select{(sql.prepare << "select name from users where id = :id",
///                   soci::use(id), soci::into(name))} {}
///     long long id = 0;
///     std::string name;
///     soci::statement select;
/// };
///
/// co_await asio_soci::as_future(s, [id](soci::session& sql) {
///     auto& q = asio_soci::connection_state<find_user>(sql);
///     q.id = id;
///     if (!q.select.execute(true))
///         return std::optional<std::string>{};
///     q.select.fetch();  // to the end (see below)
///     return std::optional{q.name};
/// });
/// ```
///
/// On SQLite, read a kept select to its end (fetch() until it returns false): a
/// statement with rows left unread keeps its read transaction open after the call, so
/// the later calls of the same lease read an old snapshot, and a write among them may
/// fail with "database is locked". When the connection goes back to the pool, such
/// statements are reset, so the next lease never inherits the snapshot.
///
/// Only inside a function that as_future() runs, with the soci::session it was given
/// (the object is the connection's, like the connection itself: never keep a reference
/// beyond the call). Anywhere else it throws std::logic_error. A constructor that throws
/// keeps nothing: the next call tries again.
template <class T>
T& connection_state(soci::session& sql) {
    if (void* found = detail::find_connection_state(sql, typeid(T)))
        return *static_cast<T*>(found);
    auto made = std::make_unique<T>(sql);
    auto destroy = [](void* object) noexcept { delete static_cast<T*>(object); };
    void* kept = detail::keep_connection_state(sql, typeid(T), made.get(), destroy);
    made.release();
    return *static_cast<T*>(kept);
}

}  // namespace asio_soci
