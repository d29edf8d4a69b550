#include "native_session.hpp"

#include <soci/postgresql/soci-postgresql.h>
#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>  // declares sqlite3's API in namespace sqlite_api

#include <cstring>

namespace asio_soci::detail {

using namespace sqlite_api;

namespace {

transaction_state from_sqlite(sqlite3* db) noexcept {
    return sqlite3_get_autocommit(db) ? transaction_state::idle : transaction_state::in_transaction;
}

transaction_state from_postgresql(PGconn* conn) noexcept {
    if (PQstatus(conn) != CONNECTION_OK)
        return transaction_state::broken;
    switch (PQtransactionStatus(conn)) {
        case PQTRANS_IDLE:
            return transaction_state::idle;
        case PQTRANS_INTRANS:
        case PQTRANS_ACTIVE:
            return transaction_state::in_transaction;
        case PQTRANS_INERROR:
            return transaction_state::failed;
        default:
            return transaction_state::broken;
    }
}

sqlite3* sqlite_handle(soci::session& sql) {
    return static_cast<soci::sqlite3_session_backend*>(sql.get_backend())->conn_;
}

template <class Error>
[[noreturn]] void throw_with_statement(Error error, const std::string& statement) {
    error.add_context("while executing \"" + statement + "\"");
    throw error;
}

}  // namespace

// SOCI's backend classes export no type information, so no dynamic_cast: the name says.
PGconn* postgresql_handle(soci::session& sql) {
    return static_cast<soci::postgresql_session_backend*>(sql.get_backend())->conn_;
}

transaction_state native_transaction_status(backend kind, void* handle) noexcept {
    if (kind == backend::postgresql)
        return from_postgresql(static_cast<PGconn*>(handle));
    return from_sqlite(static_cast<sqlite3*>(handle));
}

std::optional<backend> backend_of(soci::session& sql) {
    const auto name = sql.get_backend()->get_backend_name();
    if (name == "postgresql")
        return backend::postgresql;
    if (name == "sqlite3")
        return backend::sqlite3;
    if (name == "mysql")
        return backend::mysql;
    return std::nullopt;
}

transaction_state transaction_status_of(soci::session& sql) {
    switch (backend_of(sql).value_or(backend::mysql)) {
        case backend::postgresql:
            return from_postgresql(postgresql_handle(sql));
        case backend::sqlite3:
            return from_sqlite(sqlite_handle(sql));
        case backend::mysql:
            break;
    }
    return transaction_state::unknown;
}

std::exception_ptr postgresql_error(const PGresult* result, const PGconn* conn,
                                    const std::string& statement) {
    std::string message = result ? PQresultErrorMessage(result) : "";
    if (message.empty())
        message = PQerrorMessage(conn);
    char state[6] = "XX000";  // internal_error, when the server sent no SQLSTATE
    if (const char* field = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
        field && std::strlen(field) == 5)
        std::memcpy(state, field, 5);
    while (!message.empty() && message.back() == '\n')
        message.pop_back();
    soci::postgresql_soci_error error(message, state);
    if (!statement.empty())
        error.add_context("while executing \"" + statement + "\"");
    return std::make_exception_ptr(std::move(error));
}

void execute_native(soci::session& sql, const std::string& statement) {
    const auto kind = backend_of(sql);
    if (kind == backend::postgresql) {
        PGconn* conn = postgresql_handle(sql);
        PGresult* result = PQexec(conn, statement.c_str());
        const auto status = PQresultStatus(result);
        if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK ||
            status == PGRES_EMPTY_QUERY) {
            PQclear(result);
            return;
        }
        auto error = postgresql_error(result, conn, statement);
        PQclear(result);
        std::rethrow_exception(error);
    }
    if (kind == backend::sqlite3) {
        sqlite3* db = sqlite_handle(sql);
        char* message = nullptr;
        if (const int code = sqlite3_exec(db, statement.c_str(), nullptr, nullptr, &message);
            code != SQLITE_OK) {
            std::string text = message ? message : sqlite3_errmsg(db);
            sqlite3_free(message);
            throw_with_statement(soci::sqlite3_soci_error(text, code), statement);
        }
        return;
    }
    sql << statement;  // no native path: SOCI's
}

}  // namespace asio_soci::detail
