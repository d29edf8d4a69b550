#include "error_classification.hpp"

#include <asio_soci/errors.hpp>

#include <soci/postgresql/soci-postgresql.h>
#include <soci/sqlite3/soci-sqlite3.h>  // declares sqlite3's API in namespace sqlite_api

#include <string>
#include <string_view>

namespace asio_soci::detail {

bool is_transient(const std::exception_ptr& error) noexcept {
    try {
        std::rethrow_exception(classify_error(error, false));
    } catch (const transient_error&) {
        return true;
    } catch (...) {
    }
    return false;
}

namespace {

// The quoted name after `marker` in a PostgreSQL message: `... constraint "users_pkey"`.
std::string quoted_after(std::string_view message, std::string_view marker) {
    const auto at = message.find(marker);
    if (at == std::string_view::npos)
        return {};
    const auto start = at + marker.size();
    const auto end = message.find('"', start);
    return end == std::string_view::npos ? std::string{}
                                         : std::string(message.substr(start, end - start));
}

std::string postgresql_constraint(const std::string& state, std::string_view message) {
    if (state == "23502") {  // null value in column "c" of relation "t" violates not-null ...
        auto column = quoted_after(message, "column \"");
        auto table = quoted_after(message, "relation \"");
        return table.empty() || column.empty() ? column : table + "." + column;
    }
    return quoted_after(message, "constraint \"");
}

// "UNIQUE constraint failed: users.email" -> "users.email".
std::string sqlite_constraint(std::string_view message) {
    constexpr std::string_view marker = "constraint failed: ";
    const auto at = message.find(marker);
    if (at == std::string_view::npos)
        return {};
    auto rest = message.substr(at + marker.size());
    rest = rest.substr(0, rest.find_first_of("\n"));
    while (!rest.empty() && (rest.back() == ' ' || rest.back() == '.'))
        rest.remove_suffix(1);
    return std::string(rest);
}

template <class Error>
std::exception_ptr make(const soci::soci_error& original, std::string state, int code,
                        std::string constraint) {
    return std::make_exception_ptr(Error(original, std::move(state), code, std::move(constraint)));
}

}  // namespace

std::exception_ptr classify_error(const std::exception_ptr& error, bool connection_broken) {
    try {
        std::rethrow_exception(error);
    } catch (const database_error&) {
        return error;  // classified already
    } catch (const soci::postgresql_soci_error& e) {
        const std::string state = e.sqlstate();
        const std::string message = e.get_error_message();
        auto constraint = postgresql_constraint(state, message);
        if (state == "23505")
            return make<unique_violation>(e, state, 0, std::move(constraint));
        if (state == "23503")
            return make<foreign_key_violation>(e, state, 0, std::move(constraint));
        if (state == "23502")
            return make<not_null_violation>(e, state, 0, std::move(constraint));
        if (state == "23514")
            return make<check_violation>(e, state, 0, std::move(constraint));
        if (state.starts_with("23"))
            return make<integrity_error>(e, state, 0, std::move(constraint));
        if (state == "40001")
            return make<serialization_failure>(e, state, 0, {});
        if (state == "40P01")
            return make<deadlock_detected>(e, state, 0, {});
        if (state.starts_with("08") || connection_broken)
            return make<connection_lost>(e, state, 0, {});
    } catch (const soci::sqlite3_soci_error& e) {
        const int code = e.result();
        auto constraint = sqlite_constraint(e.get_error_message());
        switch (code) {
            case SQLITE_CONSTRAINT_UNIQUE:
            case SQLITE_CONSTRAINT_PRIMARYKEY:
                return make<unique_violation>(e, {}, code, std::move(constraint));
            case SQLITE_CONSTRAINT_FOREIGNKEY:
                return make<foreign_key_violation>(e, {}, code, std::move(constraint));
            case SQLITE_CONSTRAINT_NOTNULL:
                return make<not_null_violation>(e, {}, code, std::move(constraint));
            case SQLITE_CONSTRAINT_CHECK:
                return make<check_violation>(e, {}, code, std::move(constraint));
            default:
                break;
        }
        switch (code & 0xff) {  // the primary result code of an extended one
            case SQLITE_CONSTRAINT:
                return make<integrity_error>(e, {}, code, std::move(constraint));
            case SQLITE_BUSY:
            case SQLITE_LOCKED:
                return make<database_busy>(e, {}, code, {});
            default:
                break;
        }
    } catch (...) {
    }
    return error;
}

}  // namespace asio_soci::detail
