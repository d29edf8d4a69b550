// Several named databases (tornado-sqlalchemy's `binds`), e.g. "default" and "analytics".
#pragma once

#include <asio_soci/session_factory.hpp>

#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace asio_soci {

/// The name request_scope::session() uses when none is given.
inline constexpr std::string_view default_bind = "default";

/// Named session factories. Cheap to copy (copies share the table until one of them is
/// changed), so a request_scope can take one per request.
class database_binds {
public:
    database_binds() = default;
    /// E.g. `{{"default", users_db}, {"analytics", events_db}}`.
    database_binds(std::initializer_list<std::pair<std::string, session_factory>> binds);

    /// Adds a named factory; throws std::invalid_argument for an empty factory or a name
    /// that is already bound.
    void add(std::string name, session_factory factory);

    /// The factory bound to `name`; throws std::out_of_range naming it when unbound.
    const session_factory& at(std::string_view name) const;
    bool contains(std::string_view name) const noexcept;
    std::size_t size() const noexcept { return table_ ? table_->size() : 0; }

    /// The stored name equal to `name` (stable for the lifetime of this object).
    std::string_view stored_name(std::string_view name) const;

private:
    using table = std::map<std::string, session_factory, std::less<>>;
    std::shared_ptr<const table> table_;
};

}  // namespace asio_soci
