// pg::result: the rows of one statement run through the zero-hop PostgreSQL API, with
// typed access to their values.
#pragma once

#include <asio_soci/errors.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

struct pg_result;  // libpq's PGresult

namespace asio_soci::pg {

/// A value could not be read as the type asked for: a NULL read as a type that is not
/// a std::optional, a column type that does not convert (text read as int), a number
/// out of the type's range. The message names the column and its PostgreSQL type.
class conversion_error : public asio_soci::error {
public:
    using error::error;
};

}  // namespace asio_soci::pg

namespace asio_soci::detail {

// Reading one field, compiled (src/postgresql/result.cpp). Each throws conversion_error
// naming the column when the value does not convert; none is called for a NULL.
void pg_read_field(const pg_result* r, int row, int column, bool& out);
void pg_read_field(const pg_result* r, int row, int column, std::int64_t& out);
void pg_read_field(const pg_result* r, int row, int column, std::uint64_t& out);
void pg_read_field(const pg_result* r, int row, int column, double& out);
void pg_read_field(const pg_result* r, int row, int column, float& out);
void pg_read_field(const pg_result* r, int row, int column, std::string& out);
void pg_read_field(const pg_result* r, int row, int column, std::string_view& out);
void pg_read_field(const pg_result* r, int row, int column, std::vector<std::byte>& out);
void pg_read_field(const pg_result* r, int row, int column,
                   std::chrono::system_clock::time_point& out);
bool pg_field_is_null(const pg_result* r, int row, int column) noexcept;
[[noreturn]] void pg_throw_null(const pg_result* r, int column);
[[noreturn]] void pg_throw_out_of_range(const pg_result* r, int row, int column);
int pg_column_index(const pg_result* r, std::string_view name);

template <class T>
struct is_pg_optional : std::false_type {};
template <class T>
struct is_pg_optional<std::optional<T>> : std::true_type {};

template <class T>
T pg_read(const pg_result* r, int row, int column) {
    if constexpr (is_pg_optional<T>::value) {
        if (pg_field_is_null(r, row, column))
            return std::nullopt;
        return pg_read<typename T::value_type>(r, row, column);
    } else {
        if (pg_field_is_null(r, row, column))
            pg_throw_null(r, column);
        if constexpr (std::is_same_v<T, bool>) {
            bool value = false;
            pg_read_field(r, row, column, value);
            return value;
        } else if constexpr (std::is_integral_v<T>) {
            // Read at full width, then checked against T's range.
            using wide = std::conditional_t<std::is_signed_v<T>, std::int64_t, std::uint64_t>;
            wide value = 0;
            pg_read_field(r, row, column, value);
            if (!std::in_range<T>(value))
                pg_throw_out_of_range(r, row, column);
            return static_cast<T>(value);
        } else {
            T value{};
            pg_read_field(r, row, column, value);
            return value;
        }
    }
}

}  // namespace asio_soci::detail

namespace asio_soci::pg {

/// One row of a result: a view, valid while its result lives.
class row {
public:
    /// The value of the column at `column` (from 0) as T: bool, an integer type, float,
    /// double, std::string, std::string_view (a view into the result), std::vector<
    /// std::byte> (bytea), std::chrono::system_clock::time_point (timestamp, timestamptz,
    /// date; a timestamp without time zone is read as UTC), or std::optional of one of
    /// them (NULL: std::nullopt). Numeric and integer columns read as double and as
    /// std::string too. Throws conversion_error when the value does not convert.
    template <class T>
    T get(std::size_t column) const {
        return detail::pg_read<T>(result_, row_, checked(column));
    }
    /// The value of the column named `name`; std::out_of_range for an unknown name.
    template <class T>
    T get(std::string_view name) const {
        return detail::pg_read<T>(result_, row_, detail::pg_column_index(result_, name));
    }
    bool is_null(std::size_t column) const {
        return detail::pg_field_is_null(result_, row_, checked(column));
    }
    std::size_t index() const noexcept { return static_cast<std::size_t>(row_); }

private:
    friend class result;
    row(const pg_result* r, int index, int columns) noexcept
        : result_(r), row_(index), columns_(columns) {}
    int checked(std::size_t column) const;

    const pg_result* result_;
    int row_;
    int columns_;
};

/// The rows of one statement, owning libpq's result. Copies share it; cheap to move.
class result {
public:
    class iterator {
    public:
        using value_type = pg::row;
        using difference_type = std::ptrdiff_t;
        iterator() = default;
        pg::row operator*() const noexcept { return owner_->operator[](index_); }
        iterator& operator++() noexcept {
            ++index_;
            return *this;
        }
        iterator operator++(int) noexcept {
            auto before = *this;
            ++index_;
            return before;
        }
        bool operator==(const iterator&) const = default;

    private:
        friend class result;
        iterator(const result* owner, std::size_t index) noexcept : owner_(owner), index_(index) {}
        const result* owner_ = nullptr;
        std::size_t index_ = 0;
    };

    result() = default;

    /// Rows returned (0 for a statement that returns none).
    std::size_t size() const noexcept;
    bool empty() const noexcept { return size() == 0; }
    std::size_t columns() const noexcept;
    std::string_view column_name(std::size_t column) const;
    /// The index of the column named `name`; std::out_of_range when there is none.
    std::size_t column_index(std::string_view name) const;
    /// Rows the statement inserted, updated, deleted, selected, copied or fetched
    /// (PostgreSQL's command tag count); 0 for statements without one.
    std::uint64_t affected_rows() const noexcept;

    pg::row operator[](std::size_t index) const noexcept {
        return pg::row(handle_.get(), static_cast<int>(index), static_cast<int>(columns()));
    }
    /// std::out_of_range past the last row.
    pg::row at(std::size_t index) const;
    pg::row front() const { return at(0); }
    iterator begin() const noexcept { return {this, 0}; }
    iterator end() const noexcept { return {this, size()}; }

    /// libpq's PGresult, for what this class does not offer.
    const pg_result* native_handle() const noexcept { return handle_.get(); }

    /// Takes ownership of a PGresult (PQclear()ed when the last copy goes).
    explicit result(pg_result* adopted);

private:
    std::shared_ptr<pg_result> handle_;
};

}  // namespace asio_soci::pg
