// Database URLs in SQLAlchemy's form, translated to SOCI connect strings.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace asio_soci {

/// The SOCI backend a URL selects.
enum class backend { sqlite3, postgresql, mysql };

/// A parsed database URL.
///
/// Accepted forms:
///   sqlite://                                 in-memory database
///   sqlite:///relative/path.db                path relative to the working directory
///   sqlite:////absolute/path.db               absolute path
///   sqlite:///app.db?journal_mode=delete&busy_timeout=2000
///   postgresql://user:password@host:port/dbname?sslmode=disable&connect_timeout=3
///   postgres://...                            same as postgresql://
///   postgresql://user@/dbname?host=/run/postgresql   unix socket directory
///   mysql://user:password@host:port/dbname
///
/// SQLite takes two parameters: busy_timeout (milliseconds, default 5000) and
/// journal_mode (default wal for files); any other is refused. PostgreSQL's go to libpq,
/// except prepared_statements=on|off (default on): off makes the zero-hop API
/// (asio_soci::pg) run every statement unnamed, for PgBouncer in transaction mode.
/// User, password, host, database and query values are percent-decoded. A malformed
/// URL or an unknown scheme throws url_error naming the offending part; the password is
/// never part of a message, and to_string() shows it as ***.
class database_url {
public:
    /// The PostgreSQL parameter that turns the zero-hop API's named statements off.
    static constexpr std::string_view prepared_statements_key = "prepared_statements";

    /// Parses `url`; throws url_error.
    static database_url parse(std::string_view url);

    asio_soci::backend backend() const noexcept { return backend_; }
    /// SOCI's backend name: "sqlite3", "postgresql" or "mysql".
    std::string_view backend_name() const noexcept;

    const std::string& username() const noexcept { return username_; }
    const std::optional<std::string>& password() const noexcept { return password_; }
    const std::string& host() const noexcept { return host_; }
    std::optional<unsigned short> port() const noexcept { return port_; }
    /// Database name (PostgreSQL, MySQL) or file path (SQLite; empty for in-memory).
    const std::string& database() const noexcept { return database_; }
    /// Query parameters, decoded, in key order.
    const std::map<std::string, std::string>& query() const noexcept { return query_; }

    /// True for sqlite:// (an in-memory database, private to each connection).
    bool is_sqlite_memory() const noexcept;

    /// The URL with the password replaced by ***; safe to log.
    std::string to_string() const;

    /// The connect string SOCI's backend expects (PostgreSQL: a libpq conninfo string
    /// with quoted values; SQLite: the file path or ":memory:"; MySQL: SOCI's
    /// key=value form). Contains the password: never log it.
    std::string soci_connect_string() const;

    /// Masks the password (and secret query parameters) where a driver message may
    /// quote the settings: in URL user info (`:secret@`) and in key=value settings
    /// (`password=secret`, `password='secret'`). Other text is left alone, so that a
    /// password that is also an English word or the user name masks nothing else.
    /// Used on driver messages before they reach an exception or a log line.
    std::string redact(std::string text) const;

    friend bool operator==(const database_url&, const database_url&) = default;

private:
    database_url() = default;

    asio_soci::backend backend_{backend::sqlite3};
    std::string scheme_;
    std::string username_;
    std::optional<std::string> password_;
    std::string password_raw_;  // as written in the URL (percent-encoded), for redact()
    std::string host_;
    std::optional<unsigned short> port_;
    std::string database_;
    std::map<std::string, std::string> query_;
};

}  // namespace asio_soci
