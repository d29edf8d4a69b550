// metadata: the application's tables (SQLAlchemy's Base.metadata), and the schema made
// from them: create_all / drop_all.
#pragma once

#include <asio_soci/as_future.hpp>
#include <asio_soci/model/table.hpp>
#include <asio_soci/session_factory.hpp>

#include <asio/use_awaitable.hpp>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace soci {
class session;
}

namespace asio_soci {

/// The tables of an application. It refers to the declarations (table_of), which live
/// as long as the program.
class metadata {
public:
    /// The tables of `T...`, checked (model_error names what cannot be right).
    template <declared_model... T>
    static metadata of() {
        metadata m;
        (m.tables_.push_back(&table_of<T>().definition()), ...);
        m.check();
        return m;
    }

    const std::vector<const table_definition*>& tables() const noexcept { return tables_; }
    const table_definition* find(std::string_view table) const noexcept;
    /// The tables, each after those its foreign keys refer to.
    std::vector<const table_definition*> creation_order() const;

private:
    void check() const;

    std::vector<const table_definition*> tables_;
};

/// The statements that create `table` (the table, then its indexes), for the database
/// of `sql` (PostgreSQL or SQLite). Tables and indexes that exist are left as they are.
std::vector<std::string> create_table_statements(soci::session& sql, const table_definition& table);

/// Creates the metadata's tables that do not exist yet, with their constraints and
/// indexes, in foreign-key order; tables that exist are left as they are. Run it in a
/// transaction to get all or nothing (the async form does).
void create_all(soci::session& sql, const metadata& tables);
/// Drops the metadata's tables that exist, in reverse foreign-key order.
void drop_all(soci::session& sql, const metadata& tables);

/// create_all in one transaction on a connection of `factory` (the one-shot as_future).
/// `tables` must outlive the call. Completion signature: void(std::exception_ptr).
template <class CompletionToken = asio::use_awaitable_t<>>
auto async_create_all(const session_factory& factory, const metadata& tables,
                      CompletionToken&& token = {}) {
    auto create = [&tables](soci::session& sql) { create_all(sql, tables); };
    return as_future(factory, std::move(create), std::forward<CompletionToken>(token));
}
/// drop_all in one transaction on a connection of `factory`, as async_create_all.
template <class CompletionToken = asio::use_awaitable_t<>>
auto async_drop_all(const session_factory& factory, const metadata& tables,
                    CompletionToken&& token = {}) {
    auto drop = [&tables](soci::session& sql) { drop_all(sql, tables); };
    return as_future(factory, std::move(drop), std::forward<CompletionToken>(token));
}

}  // namespace asio_soci
