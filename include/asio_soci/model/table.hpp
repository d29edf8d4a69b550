// A table declared once for a plain struct: its columns (member pointers, portable SQL
// types, options), its keys, constraints and indexes. The declaration is what create_all
// builds, what SOCI converts rows with (model/rows.hpp), and what the typed statements
// run on.
#pragma once

#include <asio_soci/detail/model_values.hpp>
#include <asio_soci/errors.hpp>

#include <soci/values.h>

#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstring>
#include <ctime>
#include <functional>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace asio_soci {

/// A declaration that cannot be right (a duplicate column, two single-column primary
/// keys, a foreign key to a table the metadata lacks...); the message names the table and
/// the column.
class model_error : public error {
public:
    using error::error;
};

/// The portable column types: each becomes the dialect's own in the DDL.
namespace sql {

enum class type_kind {
    smallint,
    integer,
    bigint,
    boolean,
    real,
    double_precision,
    numeric,
    text,
    varchar,
    date,
    timestamp,
    blob
};

/// A column's type as the DDL and the schema comparison see it.
struct column_type {
    type_kind kind = type_kind::integer;
    std::size_t length = 0;  // varchar
    int precision = 0;       // numeric
    int scale = 0;           // numeric

    friend bool operator==(const column_type&, const column_type&) = default;
};

// Each type is a type of its own, so that a member of the wrong C++ type is rejected at
// compile time (see accepts below).
/// A type without parameters.
template <type_kind Kind>
struct simple_type {
    static constexpr type_kind kind = Kind;
};
using smallint_type = simple_type<type_kind::smallint>;
using integer_type = simple_type<type_kind::integer>;
using bigint_type = simple_type<type_kind::bigint>;
using boolean_type = simple_type<type_kind::boolean>;
using real_type = simple_type<type_kind::real>;
using double_precision_type = simple_type<type_kind::double_precision>;
using text_type = simple_type<type_kind::text>;
using date_type = simple_type<type_kind::date>;
using timestamp_type = simple_type<type_kind::timestamp>;
using blob_type = simple_type<type_kind::blob>;
struct numeric_type {
    static constexpr type_kind kind = type_kind::numeric;
    int precision = 0;
    int scale = 0;
};
struct varchar_type {
    static constexpr type_kind kind = type_kind::varchar;
    std::size_t length = 0;
};

inline constexpr smallint_type smallint{};
inline constexpr integer_type integer{};
inline constexpr bigint_type bigint{};
inline constexpr boolean_type boolean{};
inline constexpr real_type real{};
inline constexpr double_precision_type double_precision{};
inline constexpr text_type text{};
inline constexpr date_type date{};            // without time of day
inline constexpr timestamp_type timestamp{};  // without time zone, read and written as UTC
inline constexpr blob_type blob{};            // bytes: bytea on PostgreSQL, BLOB on SQLite
constexpr varchar_type varchar(std::size_t length) {
    return {length};
}
constexpr numeric_type numeric(int precision, int scale = 0) {
    return {precision, scale};
}

/// Which C++ member types a column type stores (std::optional<M> for a nullable column).
template <class Type, class M>
inline constexpr bool accepts = false;
template <class M>
inline constexpr bool accepts<smallint_type, M> = detail::model_integer<M> && sizeof(M) >= 2;
template <class M>
inline constexpr bool accepts<integer_type, M> = detail::model_integer<M> && sizeof(M) >= 4;
template <class M>
inline constexpr bool accepts<bigint_type, M> = detail::model_integer<M> && sizeof(M) >= 8;
template <>
inline constexpr bool accepts<boolean_type, bool> = true;
template <class M>
inline constexpr bool accepts<real_type, M> = std::is_floating_point_v<M>;
template <>
inline constexpr bool accepts<double_precision_type, double> = true;
template <class M>
inline constexpr bool accepts<numeric_type, M> =
    std::is_floating_point_v<M> || std::is_same_v<M, std::string>;
template <>
inline constexpr bool accepts<text_type, std::string> = true;
template <>
inline constexpr bool accepts<varchar_type, std::string> = true;
template <>
inline constexpr bool accepts<date_type, std::tm> = true;
template <>
inline constexpr bool accepts<timestamp_type, std::tm> = true;
template <>
inline constexpr bool accepts<timestamp_type, std::chrono::system_clock::time_point> = true;
template <class M>
inline constexpr bool accepts<blob_type, M> = detail::model_bytes<M>;

}  // namespace sql

/// What a foreign key does when the row it points to is deleted.
enum class on_delete { no_action, restrict, cascade, set_null };

/// A foreign key: the column refers to `column` of `table` (a table of the same metadata).
struct references {
    std::string table;
    std::string column;
    on_delete action = on_delete::no_action;
};

/// A column's default: a value (written as an SQL literal) or an SQL expression.
class column_default {
public:
    column_default() = default;
    template <std::integral I>
    requires(!std::same_as<I, bool>) column_default(I value) : sql_(std::to_string(value)) {}
    column_default(bool value) : sql_(value ? "true" : "false") {}
    column_default(double value);
    column_default(std::string value);
    column_default(const char* value) : column_default(std::string(value)) {}
    /// Written as it is: `column_default::expression("current_timestamp")`.
    static column_default expression(std::string sql) {
        column_default d;
        d.sql_ = std::move(sql);
        return d;
    }

    /// The SQL of the default; empty for none.
    const std::string& sql() const noexcept { return sql_; }

private:
    std::string sql_;
};

/// A column's options: `{.primary_key = true, .identity = true}`.
struct column_options {
    bool primary_key = false;  // a single-column key; table::primary_key() for a composite
    bool identity = false;     // assigned by the database (integer types, the primary key)
    bool unique = false;
    bool index = false;
    column_default default_value{};
    std::optional<references> foreign_key{};
};

struct column_definition {
    std::string name;
    sql::column_type type;
    bool nullable = false;  // the member is a std::optional
    column_options options;
};

struct index_definition {
    std::string name;
    std::vector<std::string> columns;
    bool unique = false;
};

/// A table as the DDL, the schema comparison and the statements see it, whatever struct
/// it maps.
struct table_definition {
    std::string name;
    std::vector<column_definition> columns;
    std::vector<std::string> primary_key;
    std::vector<std::vector<std::string>> unique_constraints;  // besides column_options
    std::vector<index_definition> indexes;                     // besides column_options

    const column_definition* find(std::string_view column) const noexcept;
    /// The identity column, if any.
    const column_definition* identity() const noexcept;
    /// Throws model_error, naming the table and column, for what cannot be right on its
    /// own (the metadata checks what spans tables).
    void check() const;
};

/// The declaration of `T`'s table. Declare it once, in a function found by
/// argument-dependent lookup:
///
/// ```cpp
/// struct user {
///     std::int64_t id = 0;
///     std::string username;
/// };
/// inline const asio_soci::table<user>& table_of(asio_soci::model<user>) {
///     static const auto table = asio_soci::table<user>("users")
///         .column("id", &user::id, asio_soci::sql::bigint, {.primary_key = true, .identity =
///         true}) .column("username", &user::username, asio_soci::sql::varchar(255), {.unique =
///         true});
///     return table;
/// }
/// ```
template <class T>
class table {
public:
    explicit table(std::string name) { definition_.name = std::move(name); }

    /// A column stored in `member`; a std::optional member makes it nullable. Throws
    /// model_error for a duplicate name or member, or a second single-column primary key.
    template <class M, class Type>
    table& column(std::string name, M T::*member, Type type, column_options options = {}) & {
        using value_type = typename detail::model_nullable<M>::value_type;
        static_assert(sql::accepts<Type, value_type>,
                      "asio_soci::table::column: the member's C++ type cannot hold this SQL "
                      "type (see sql::accepts in <asio_soci/model/table.hpp>)");
        column_definition column{std::move(name), to_column_type(type),
                                 detail::model_nullable<M>::value, std::move(options)};
        add(std::move(column),
            {[member](const T& row, soci::values& v, const std::string& n) {
                 detail::model_write(v, n, row.*member);
             },
             [member](const soci::values& v, T& row, const std::string& n) {
                 detail::model_read(v, n, row.*member);
             },
             [member](T& row, long long key) { detail::model_assign_key(row.*member, key); },
             member_key(member)});
        return *this;
    }
    template <class M, class Type>
    table&& column(std::string name, M T::*member, Type type, column_options options = {}) && {
        return std::move(column(std::move(name), member, type, std::move(options)));
    }

    /// A primary key of several columns (instead of column_options::primary_key).
    table& primary_key(std::vector<std::string> columns) & {
        if (!definition_.primary_key.empty())
            throw model_error("table " + definition_.name + ": a second primary key");
        definition_.primary_key = std::move(columns);
        return *this;
    }
    table&& primary_key(std::vector<std::string> columns) && {
        return std::move(primary_key(std::move(columns)));
    }
    /// A unique constraint over several columns.
    table& unique(std::vector<std::string> columns) & {
        definition_.unique_constraints.push_back(std::move(columns));
        return *this;
    }
    table&& unique(std::vector<std::string> columns) && {
        return std::move(unique(std::move(columns)));
    }
    /// An index over several columns, named `name`.
    table& index(std::string name, std::vector<std::string> columns, bool unique = false) & {
        definition_.indexes.push_back({std::move(name), std::move(columns), unique});
        return *this;
    }
    table&& index(std::string name, std::vector<std::string> columns, bool unique = false) && {
        return std::move(index(std::move(name), std::move(columns), unique));
    }

    const table_definition& definition() const noexcept { return definition_; }
    const std::string& name() const noexcept { return definition_.name; }

    /// The row's values, one per column, named as the columns (soci::use).
    void write(const T& row, soci::values& values) const {
        for (std::size_t i = 0; i < accessors_.size(); ++i)
            accessors_[i].write(row, values, definition_.columns[i].name);
    }
    /// The row from values named as the columns (soci::into); columns absent from
    /// `values` are left as they are.
    void read(const soci::values& values, T& row) const {
        for (std::size_t i = 0; i < accessors_.size(); ++i)
            accessors_[i].read(values, row, definition_.columns[i].name);
    }
    /// Sets the identity member from a key the database assigned.
    void set_identity(T& row, long long key) const {
        for (std::size_t i = 0; i < accessors_.size(); ++i)
            if (definition_.columns[i].options.identity)
                accessors_[i].set_key(row, key);
    }

private:
    struct accessor {
        std::function<void(const T&, soci::values&, const std::string&)> write;
        std::function<void(const soci::values&, T&, const std::string&)> read;
        std::function<void(T&, long long)> set_key;
        std::vector<unsigned char> member;  // the member pointer's bytes: one column each
    };

    template <class Type>
    static sql::column_type to_column_type(const Type& type) {
        sql::column_type t{Type::kind};
        if constexpr (std::is_same_v<Type, sql::varchar_type>)
            t.length = type.length;
        if constexpr (std::is_same_v<Type, sql::numeric_type>) {
            t.precision = type.precision;
            t.scale = type.scale;
        }
        return t;
    }

    template <class M>
    static std::vector<unsigned char> member_key(M T::*member) {
        std::vector<unsigned char> bytes(sizeof member);
        std::memcpy(bytes.data(), &member, sizeof member);
        return bytes;
    }

    void add(column_definition column, accessor access) {
        const auto where = "table " + definition_.name + ", column " + column.name;
        if (definition_.find(column.name))
            throw model_error(where + ": declared twice");
        for (std::size_t i = 0; i < accessors_.size(); ++i)
            if (accessors_[i].member == access.member)
                throw model_error(where + ": its member is already column " +
                                  definition_.columns[i].name);
        if (column.options.primary_key) {
            if (!definition_.primary_key.empty())
                throw model_error(where +
                                  ": a second primary key (declare a composite key with "
                                  "table::primary_key({...}))");
            definition_.primary_key.push_back(column.name);
        }
        definition_.columns.push_back(std::move(column));
        accessors_.push_back(std::move(access));
    }

    table_definition definition_;
    std::vector<accessor> accessors_;
};

/// The argument of `table_of`, the function that declares a struct's table.
template <class T>
struct model {};

/// True when `table_of(asio_soci::model<T>)` declares `T`'s table.
template <class T>
concept declared_model = requires {
    { table_of(model<T>{}) } -> std::same_as<const table<T>&>;
};

/// `T`'s table declaration.
template <declared_model T>
const table<T>& table_of() {
    return table_of(model<T>{});
}

}  // namespace asio_soci
