// Unit tests of asio_soci::database_url.
#include <asio_soci/database_url.hpp>
#include <asio_soci/errors.hpp>

#include <catch2/catch.hpp>

#include <string>
#include <string_view>

using asio_soci::backend;
using asio_soci::database_url;
using asio_soci::url_error;
using Catch::Contains;

namespace {

// The what() of the url_error that parsing `url` throws ("" if it does not throw).
std::string parse_error(std::string_view url) {
    try {
        (void)database_url::parse(url);
    } catch (const url_error& e) {
        return e.what();
    }
    return {};
}

}  // namespace

TEST_CASE("url: sqlite in-memory", "[url]") {
    for (std::string_view text : {"sqlite://", "sqlite:///", "sqlite:///:memory:"}) {
        INFO(text);
        const auto url = database_url::parse(text);
        CHECK(url.backend() == backend::sqlite3);
        CHECK(url.backend_name() == "sqlite3");
        CHECK(url.is_sqlite_memory());
        CHECK(url.database().empty());
        CHECK(url.username().empty());
        CHECK_FALSE(url.password().has_value());
        CHECK(url.host().empty());
        CHECK_FALSE(url.port().has_value());
        CHECK(url.query().empty());
        CHECK(url.soci_connect_string() == ":memory:");
        CHECK(url.to_string() == "sqlite://");
    }
}

TEST_CASE("url: sqlite relative and absolute paths", "[url]") {
    const auto rel = database_url::parse("sqlite:///relative.db");
    CHECK(rel.backend() == backend::sqlite3);
    CHECK_FALSE(rel.is_sqlite_memory());
    CHECK(rel.database() == "relative.db");
    CHECK(rel.soci_connect_string() == "relative.db");
    CHECK(rel.to_string() == "sqlite:///relative.db");

    const auto sub = database_url::parse("sqlite:///data/app.db");
    CHECK(sub.database() == "data/app.db");
    CHECK(sub.to_string() == "sqlite:///data/app.db");

    const auto abs = database_url::parse("sqlite:////abs/path.db");
    CHECK_FALSE(abs.is_sqlite_memory());
    CHECK(abs.database() == "/abs/path.db");
    CHECK(abs.soci_connect_string() == "/abs/path.db");
    CHECK(abs.to_string() == "sqlite:////abs/path.db");
    CHECK(abs.username().empty());
    CHECK(abs.host().empty());
    CHECK_FALSE(abs.port().has_value());
    CHECK_FALSE(abs.password().has_value());
}

TEST_CASE("url: sqlite query parameters", "[url]") {
    const auto url = database_url::parse("sqlite:///app.db?journal_mode=delete&busy_timeout=2000");
    CHECK(url.database() == "app.db");
    CHECK(url.query().size() == 2);
    CHECK(url.query().at("journal_mode") == "delete");
    CHECK(url.query().at("busy_timeout") == "2000");
    CHECK(url.soci_connect_string() == "app.db");
    CHECK(url.to_string() == "sqlite:///app.db?busy_timeout=2000&journal_mode=delete");

    const auto memory = database_url::parse("sqlite://?busy_timeout=5");
    CHECK(memory.is_sqlite_memory());
    CHECK(memory.query().at("busy_timeout") == "5");
    CHECK(memory.to_string() == "sqlite://?busy_timeout=5");
}

TEST_CASE("url: bad sqlite query parameters are refused while parsing", "[url]") {
    using Catch::Contains;
    CHECK_THROWS_AS(database_url::parse("sqlite:///a.db?foo=1"), asio_soci::url_error);
    CHECK_THROWS_WITH(database_url::parse("sqlite:///a.db?foo=1"),
                      Contains("unknown SQLite URL parameter \"foo\"") &&
                          Contains("busy_timeout or journal_mode"));
    CHECK_THROWS_WITH(database_url::parse("sqlite:///a.db?busy_timeout=-1"),
                      Contains("invalid SQLite busy_timeout \"-1\""));
    CHECK_THROWS_WITH(database_url::parse("sqlite://?busy_timeout=2s"),
                      Contains("invalid SQLite busy_timeout \"2s\""));
    CHECK_THROWS_WITH(database_url::parse("sqlite:///a.db?journal_mode=w%40l"),
                      Contains("invalid SQLite journal_mode \"w@l\""));
    CHECK_THROWS_WITH(database_url::parse("sqlite:///a.db?journal_mode="),
                      Contains("invalid SQLite journal_mode \"\""));
}

TEST_CASE("url: sqlite paths with special characters", "[url]") {
    const auto spaced = database_url::parse("sqlite:////tmp/my%20db%3F.db");
    CHECK(spaced.database() == "/tmp/my db?.db");
    CHECK(spaced.soci_connect_string() == "/tmp/my db?.db");
    CHECK(spaced.to_string() == "sqlite:////tmp/my%20db%3F.db");

    // SOCI's sqlite3 backend parses key=value pairs once the string contains '='.
    const auto eq = database_url::parse("sqlite:////tmp/a=b c.db");
    CHECK(eq.database() == "/tmp/a=b c.db");
    CHECK(eq.soci_connect_string() == "db=\"/tmp/a=b c.db\"");

    const auto quote = database_url::parse("sqlite:///say%22hi%22.db");
    CHECK(quote.database() == "say\"hi\".db");
    CHECK(quote.soci_connect_string() == "say\"hi\".db");

    REQUIRE_THROWS_AS(database_url::parse("sqlite:///a=%22b.db"), url_error);
    REQUIRE_THROWS_WITH(database_url::parse("sqlite:///a=%22b.db"),
                        Contains("sqlite path \"a=\"b.db\" cannot be expressed"));
    REQUIRE_THROWS_WITH(database_url::parse("sqlite:///%20a=b.db"),
                        Contains("sqlite path \" a=b.db\" cannot be expressed"));
}

TEST_CASE("url: sqlite rejects user, password, host and port", "[url]") {
    for (std::string_view text : {"sqlite://localhost/app.db", "sqlite://app.db",
                                  "sqlite://bob@/app.db", "sqlite://:5432/app.db"}) {
        INFO(text);
        REQUIRE_THROWS_AS(database_url::parse(text), url_error);
        REQUIRE_THROWS_WITH(database_url::parse(text),
                            Contains("sqlite URLs take no user name, password, host or port"));
    }
    const std::string message = parse_error("sqlite://bob:s3cretpw@/app.db");
    CHECK_THAT(message, Contains("sqlite URLs take no user name"));
    CHECK_THAT(message, Contains("sqlite://bob:***@/app.db"));
    CHECK_THAT(message, !Contains("s3cretpw"));
}

TEST_CASE("url: postgresql full form", "[url]") {
    const auto url = database_url::parse(
        "postgresql://app:secret@127.0.0.1:5432/app?sslmode=disable&connect_timeout=3");
    CHECK(url.backend() == backend::postgresql);
    CHECK(url.backend_name() == "postgresql");
    CHECK_FALSE(url.is_sqlite_memory());
    CHECK(url.username() == "app");
    REQUIRE(url.password().has_value());
    CHECK(*url.password() == "secret");
    CHECK(url.host() == "127.0.0.1");
    CHECK(url.port() == std::optional<unsigned short>(5432));
    CHECK(url.database() == "app");
    CHECK(url.query().size() == 2);
    CHECK(url.query().at("sslmode") == "disable");
    CHECK(url.query().at("connect_timeout") == "3");
    CHECK(url.soci_connect_string() ==
          "host='127.0.0.1' port='5432' dbname='app' user='app' password='secret' "
          "connect_timeout='3' sslmode='disable'");
    CHECK(url.to_string() ==
          "postgresql://app:***@127.0.0.1:5432/app?connect_timeout=3&sslmode=disable");
}

TEST_CASE("url: prepared_statements is the library's, checked and kept from libpq", "[url]") {
    const auto off =
        database_url::parse("postgresql://app@db/app?prepared_statements=off&sslmode=disable");
    CHECK(off.query().at("prepared_statements") == "off");
    CHECK(off.soci_connect_string() == "host='db' dbname='app' user='app' sslmode='disable'");
    CHECK(off.to_string() == "postgresql://app@db/app?prepared_statements=off&sslmode=disable");
    CHECK_NOTHROW(database_url::parse("postgresql://app@db/app?prepared_statements=on"));
    CHECK_THROWS_WITH(database_url::parse("postgresql://app@db/app?prepared_statements=no"),
                      Catch::Contains("invalid prepared_statements \"no\" (expected on or off)"));
}

TEST_CASE("url: postgresql optional parts", "[url]") {
    const auto db_only = database_url::parse("postgresql:///dbname");
    CHECK(db_only.username().empty());
    CHECK_FALSE(db_only.password().has_value());
    CHECK(db_only.host().empty());
    CHECK_FALSE(db_only.port().has_value());
    CHECK(db_only.database() == "dbname");
    CHECK(db_only.query().empty());
    CHECK(db_only.soci_connect_string() == "dbname='dbname'");
    CHECK(db_only.to_string() == "postgresql:///dbname");

    const auto host_db = database_url::parse("postgresql://db.example.com/orders");
    CHECK(host_db.host() == "db.example.com");
    CHECK(host_db.database() == "orders");
    CHECK_FALSE(host_db.port().has_value());
    CHECK(host_db.soci_connect_string() == "host='db.example.com' dbname='orders'");
    CHECK(host_db.to_string() == "postgresql://db.example.com/orders");

    const auto bare = database_url::parse("postgresql://");
    CHECK(bare.host().empty());
    CHECK(bare.database().empty());
    CHECK(bare.soci_connect_string().empty());
    CHECK(bare.to_string() == "postgresql://");

    const auto user_only = database_url::parse("postgresql://bob@db");
    CHECK(user_only.username() == "bob");
    CHECK_FALSE(user_only.password().has_value());
    CHECK(user_only.host() == "db");
    CHECK(user_only.database().empty());
    CHECK(user_only.soci_connect_string() == "host='db' user='bob'");
    CHECK(user_only.to_string() == "postgresql://bob@db");

    const auto empty_password = database_url::parse("postgresql://bob:@db/x");
    REQUIRE(empty_password.password().has_value());
    CHECK(empty_password.password()->empty());
    CHECK(empty_password.soci_connect_string() == "host='db' dbname='x' user='bob' password=''");
    CHECK(empty_password.to_string() == "postgresql://bob:***@db/x");
}

TEST_CASE("url: postgres alias keeps its spelling", "[url]") {
    const auto url = database_url::parse("postgres://u:pw@h:6543/d");
    CHECK(url.backend() == backend::postgresql);
    CHECK(url.backend_name() == "postgresql");
    CHECK(url.username() == "u");
    CHECK(url.password() == std::optional<std::string>("pw"));
    CHECK(url.host() == "h");
    CHECK(url.port() == std::optional<unsigned short>(6543));
    CHECK(url.database() == "d");
    CHECK(url.soci_connect_string() == "host='h' port='6543' dbname='d' user='u' password='pw'");
    CHECK(url.to_string() == "postgres://u:***@h:6543/d");

    CHECK(database_url::parse("PostgreSQL://h/d").to_string() == "postgresql://h/d");
}

TEST_CASE("url: postgresql unix socket directory", "[url]") {
    const auto url = database_url::parse("postgresql://user@/db?host=/var/run/postgresql");
    CHECK(url.username() == "user");
    CHECK(url.host().empty());
    CHECK(url.database() == "db");
    CHECK(url.query().at("host") == "/var/run/postgresql");
    CHECK(url.soci_connect_string() == "dbname='db' user='user' host='/var/run/postgresql'");
    CHECK(url.to_string() == "postgresql://user@/db?host=/var/run/postgresql");

    const auto encoded = database_url::parse("postgresql://%2Frun%2Fpostgresql/db");
    CHECK(encoded.host() == "/run/postgresql");
    CHECK(encoded.soci_connect_string() == "host='/run/postgresql' dbname='db'");
    CHECK(encoded.to_string() == "postgresql://%2Frun%2Fpostgresql/db");

    REQUIRE_THROWS_AS(database_url::parse("postgresql://user@h/db?host=/tmp"), url_error);
    REQUIRE_THROWS_WITH(database_url::parse("postgresql://user@h/db?host=/tmp"),
                        Contains("query parameter \"host\" conflicts with the host"));
}

TEST_CASE("url: postgresql IPv6 hosts", "[url]") {
    const auto url = database_url::parse("postgresql://u@[::1]:5432/db");
    CHECK(url.username() == "u");
    CHECK(url.host() == "::1");
    CHECK(url.port() == std::optional<unsigned short>(5432));
    CHECK(url.database() == "db");
    CHECK(url.soci_connect_string() == "host='::1' port='5432' dbname='db' user='u'");
    CHECK(url.to_string() == "postgresql://u@[::1]:5432/db");

    const auto no_port = database_url::parse("postgresql://[fe80::1:2]/db");
    CHECK(no_port.host() == "fe80::1:2");
    CHECK_FALSE(no_port.port().has_value());
    CHECK(no_port.to_string() == "postgresql://[fe80::1:2]/db");

    REQUIRE_THROWS_WITH(database_url::parse("postgresql://[::1/db"),
                        Contains("IPv6 host \"[::1\" lacks the closing ']'"));
    REQUIRE_THROWS_WITH(database_url::parse("postgresql://[::1]x/db"),
                        Contains("unexpected \"x\" after IPv6 host"));
    REQUIRE_THROWS_WITH(database_url::parse("postgresql://[nothost]/db"),
                        Contains("host \"[nothost]\" is not an IPv6 address"));
}

TEST_CASE("url: percent-decoding", "[url]") {
    const auto url = database_url::parse(
        "postgresql://me%40corp:p%40ss%2Fw%3Ard@db%2Dhost/my%20db?application_name=a%26b%3Dc");
    CHECK(url.username() == "me@corp");
    CHECK(url.password() == std::optional<std::string>("p@ss/w:rd"));
    CHECK(url.host() == "db-host");
    CHECK(url.database() == "my db");
    CHECK(url.query().at("application_name") == "a&b=c");
    CHECK(url.soci_connect_string() ==
          "host='db-host' dbname='my db' user='me@corp' password='p@ss/w:rd' "
          "application_name='a&b=c'");
    CHECK(url.to_string() ==
          "postgresql://me%40corp:***@db-host/my%20db?application_name=a%26b%3Dc");

    // Lower-case hex, an encoded '%', and an encoded key.
    const auto more = database_url::parse("postgresql://h/a%2fb%25?ssl%6Dode=x");
    CHECK(more.database() == "a/b%");
    CHECK(more.query().at("sslmode") == "x");
    CHECK(more.to_string() == "postgresql://h/a%2Fb%25?sslmode=x");

    // An unencoded '@' in the password: the last '@' of the authority ends the user info.
    const auto at = database_url::parse("postgresql://u:p@ss@h/db");
    CHECK(at.password() == std::optional<std::string>("p@ss"));
    CHECK(at.host() == "h");
}

TEST_CASE("url: conninfo quoting", "[url]") {
    const auto url = database_url::parse("postgresql://o%27brien:p%27w%5C@h/db?options=-c%20x%3D1");
    CHECK(url.username() == "o'brien");
    CHECK(url.password() == std::optional<std::string>("p'w\\"));
    CHECK(url.soci_connect_string() ==
          "host='h' dbname='db' user='o\\'brien' password='p\\'w\\\\' options='-c x=1'");
}

TEST_CASE("url: mysql", "[url]") {
    const auto url = database_url::parse("mysql://user:password@host:3306/dbname");
    CHECK(url.backend() == backend::mysql);
    CHECK(url.backend_name() == "mysql");
    CHECK(url.username() == "user");
    CHECK(url.password() == std::optional<std::string>("password"));
    CHECK(url.host() == "host");
    CHECK(url.port() == std::optional<unsigned short>(3306));
    CHECK(url.database() == "dbname");
    CHECK(url.query().empty());
    CHECK(url.soci_connect_string() == "db=dbname user=user password=password host=host port=3306");
    CHECK(url.to_string() == "mysql://user:***@host:3306/dbname");

    const auto quoted = database_url::parse(
        "mysql://u:it%27s%20a%20pw@h/my%20db?charset=utf8mb4&unix_socket=/tmp/my.sock");
    CHECK(quoted.password() == std::optional<std::string>("it's a pw"));
    CHECK(quoted.soci_connect_string() ==
          "db='my db' user=u password='it\\'s a pw' host=h charset=utf8mb4 "
          "unix_socket=/tmp/my.sock");

    const auto empty_password = database_url::parse("mysql://u:@h/d");
    CHECK(empty_password.soci_connect_string() == "db=d user=u password='' host=h");
}

TEST_CASE("url: query parsing rules", "[url]") {
    const auto url = database_url::parse("postgresql://h/db?a=1&&b&c=x=y&");
    CHECK(url.query().size() == 3);
    CHECK(url.query().at("a") == "1");
    CHECK(url.query().at("b").empty());
    CHECK(url.query().at("c") == "x=y");
    CHECK(url.query().begin()->first == "a");

    REQUIRE_THROWS_WITH(database_url::parse("postgresql://h/db?1a=x"),
                        Contains("query parameter name \"1a\" is not an identifier"));
    REQUIRE_THROWS_WITH(database_url::parse("postgresql://h/db?=x"),
                        Contains("query parameter name \"\" is not an identifier"));
    REQUIRE_THROWS_WITH(database_url::parse("postgresql://h/db?ssl-mode=x"),
                        Contains("query parameter name \"ssl-mode\""));
    REQUIRE_THROWS_WITH(database_url::parse("sqlite:///a.db?x y=1"),
                        Contains("query parameter name \"x y\""));
    REQUIRE_THROWS_WITH(database_url::parse("postgresql://h/db?a=1&a=2"),
                        Contains("query parameter \"a\" is given twice"));
    REQUIRE_THROWS_WITH(database_url::parse("postgresql://h:1/db?port=2"),
                        Contains("query parameter \"port\" conflicts with the port"));
    REQUIRE_THROWS_WITH(database_url::parse("postgresql://h/db?dbname=x"),
                        Contains("query parameter \"dbname\" conflicts with the database name"));
    REQUIRE_THROWS_WITH(database_url::parse("mysql://h/db?db=x"),
                        Contains("query parameter \"db\" conflicts with the database name"));
    REQUIRE_THROWS_WITH(database_url::parse("postgresql://u@h/db?user=x"),
                        Contains("query parameter \"user\" conflicts with the user name"));
    REQUIRE_THROWS_WITH(database_url::parse("postgresql://h/db?password=x"),
                        Contains("query parameter \"password\" is not allowed"));

    // Without the URL part they would repeat, these keys are fine.
    CHECK(database_url::parse("postgresql://h?port=5433&dbname=x").soci_connect_string() ==
          "host='h' dbname='x' port='5433'");
}

TEST_CASE("url: secret query values are masked in to_string", "[url]") {
    const auto url = database_url::parse("postgresql://h/db?sslpassword=k3y&sslmode=verify-full");
    CHECK(url.query().at("sslpassword") == "k3y");
    CHECK(url.to_string() == "postgresql://h/db?sslmode=verify-full&sslpassword=***");
}

TEST_CASE("url: port validation", "[url]") {
    for (std::string_view port : {"0", "65536", "99999", "123456", "abc", "-1", "54x", ""}) {
        const std::string text = "postgresql://h:" + std::string(port) + "/db";
        INFO(text);
        REQUIRE_THROWS_AS(database_url::parse(text), url_error);
        REQUIRE_THROWS_WITH(database_url::parse(text), Contains("port \"" + std::string(port) +
                                                                "\" is not a number in 1..65535"));
    }
    CHECK(database_url::parse("postgresql://h:1/db").port() == std::optional<unsigned short>(1));
    CHECK(database_url::parse("postgresql://h:65535/db").port() ==
          std::optional<unsigned short>(65535));
    CHECK(database_url::parse("mysql://h:03306/db").port() == std::optional<unsigned short>(3306));
}

TEST_CASE("url: scheme errors", "[url]") {
    REQUIRE_THROWS_AS(database_url::parse(""), url_error);
    REQUIRE_THROWS_WITH(database_url::parse(""), Contains("the URL is empty"));
    REQUIRE_THROWS_WITH(database_url::parse("oracle://scott@db/orcl"),
                        Contains("unknown scheme \"oracle\" (expected sqlite, postgresql, "
                                 "postgres or mysql)"));
    REQUIRE_THROWS_WITH(database_url::parse("http://example.com/"),
                        Contains("unknown scheme \"http\""));
    REQUIRE_THROWS_WITH(database_url::parse("postgresql+psycopg2://h/db"),
                        Contains("unknown scheme \"postgresql+psycopg2\""));
    REQUIRE_THROWS_WITH(database_url::parse("localhost:5432/db"), Contains("missing \"://\""));
    REQUIRE_THROWS_WITH(database_url::parse("postgresql:/h/db"), Contains("missing \"://\""));
    REQUIRE_THROWS_WITH(database_url::parse("app.db"), Contains("missing \"://\""));
    REQUIRE_THROWS_WITH(database_url::parse("://h/db"), Contains("missing scheme"));
    REQUIRE_THROWS_WITH(database_url::parse("1pg://h/db"), Contains("malformed scheme"));
}

TEST_CASE("url: other malformed parts are named", "[url]") {
    REQUIRE_THROWS_WITH(database_url::parse("postgresql://h/d%zzb"),
                        Contains("malformed percent escape \"%zz\" in database name \"d%zzb\""));
    REQUIRE_THROWS_WITH(database_url::parse("postgresql://h/db%4"),
                        Contains("malformed percent escape \"%4\" in database name \"db%4\""));
    REQUIRE_THROWS_WITH(database_url::parse("postgresql://b%g0b@h/db"),
                        Contains("malformed percent escape \"%g0\" in user name \"b%g0b\""));
    REQUIRE_THROWS_WITH(database_url::parse("postgresql://h%/db"),
                        Contains("malformed percent escape \"%\" in host \"h%\""));
    REQUIRE_THROWS_WITH(database_url::parse("postgresql://h/db?sslmode=dis%"),
                        Contains("in value of query parameter \"sslmode\" \"dis%\""));
    REQUIRE_THROWS_WITH(database_url::parse("sqlite:///a%zz.db"),
                        Contains("malformed percent escape \"%zz\" in sqlite path"));
    REQUIRE_THROWS_WITH(database_url::parse("postgresql://h/d%00b"),
                        Contains("database name \"d%00b\" contains a NUL byte"));
    REQUIRE_THROWS_WITH(database_url::parse("postgresql://bad host/db"),
                        Contains("host \"bad host\" contains an invalid character"));
    REQUIRE_THROWS_WITH(database_url::parse("postgresql://h/me@there"),
                        Contains("database name \"me@there\" contains '@'"));
}

TEST_CASE("url: error messages never contain the password", "[url]") {
    REQUIRE_THROWS_WITH(database_url::parse("postgresql://bob:s3cretpw@h:99999/db"),
                        "invalid database URL \"postgresql://bob:***@h:99999/db\": port "
                        "\"99999\" is not a number in 1..65535");

    const std::string_view malformed[] = {
        "postgresql://bob:s3cretpw@h:99999/db",
        "postgresql://bob:s3cretpw@h:port/db",
        "postgres://bob:s3cretpw@[::1/db",
        "mysql://bob:s3cretpw@h/db?1x=2",
        "mysql://bob:s3cretpw@h/db?a=%zz",
        "postgresql://bob:s3cretpw@bad host/db",
        "postgresql://bob:s3cretpw@h/db?password=other",
        "oracle://bob:s3cretpw@h/db",
        "postgresql:/bob:s3cretpw@h/db",
        "postgresql//bob:s3cretpw@h/db",
        "sqlite://bob:s3cretpw@/x.db",
        // Malformed escapes inside the password itself.
        "postgresql://bob:s3cretpw%zz@h/db",
        "postgresql://bob:s3cretpw%4@h/db",
        "postgresql://bob:s3cretpw%00@h/db",
        // Unencoded '/' or '?' in the password: the strict split cuts it apart.
        "postgresql://bob:s3cret/pw@h/db",
        "postgresql://bob:s3c?retpw@h/db",
        "postgresql://bob:s3cretpw/x@h/db",
        "mysql://bob:99/s3cretpw@h/db",
        "postgresql://bob:1?x=s3cretpw@h/db",
        "postgresql://bob:1/db?x=s3cretpw@h/db",
        // Percent-encoded password, also decoded in no message.
        "postgresql://bob:s3cr%65tpw@h:0/db",
    };
    for (std::string_view text : malformed) {
        INFO(text);
        const std::string message = parse_error(text);
        CHECK_THAT(message, Contains("invalid database URL"));
        CHECK_THAT(message, !Contains("s3cretpw"));
        CHECK_THAT(message, !Contains("s3cret"));
        CHECK_THAT(message, !Contains("etpw"));
        CHECK_THAT(message, Contains("***"));
    }

    CHECK_THAT(parse_error("postgresql://bob:s3cretpw%zz@h/db"),
               Contains("malformed percent escape in the password"));
    CHECK_THAT(parse_error("postgresql://bob:s3cret/pw@h/db"),
               Contains("percent-encode '/', '?' and '@' in the user name and password"));
    CHECK_THAT(parse_error("postgresql://bob:s3cret/pw@h/db"),
               Contains("\"postgresql://bob:***@h/db\""));
}

// Wherever the password was written (the query string too, in a key that is refused,
// inside a bad escape), no url_error quotes it: masking does not depend on the place.
TEST_CASE("url: error messages never contain a password given in the query", "[url]") {
    const std::string_view malformed[] = {
        "postgresql://app@db.example/app?password=s3cretpw",
        "postgresql://app@db.example/app?sslmode=require&password=s3cretpw%zz",
        "mysql://app@db.example/app?pass=s3cretpw",
        "postgresql://app@db.example/app?pass%77ord=s3cretpw",
        "postgresql://app@db.example:99999/app?sslpassword=s3cretpw",
        "postgresql://app:s3cretpw@db.example/app?password=s3cretpw",
        "postgresql://app@db.example/app?sslpassword=s3cretpw%4",
    };
    for (std::string_view text : malformed) {
        INFO(text);
        const std::string message = parse_error(text);
        CHECK_THAT(message, Contains("invalid database URL"));
        CHECK_THAT(message, !Contains("s3cret"));
        CHECK_THAT(message, !Contains("etpw"));
        CHECK_THAT(message, Contains("***"));
    }
    CHECK(parse_error("mysql://app@db.example/app?pass=s3cretpw") ==
          "invalid database URL \"mysql://app@db.example/app?pass=***\": query parameter "
          "\"pass\" is not allowed; put the password in the URL (user:password@host)");
    // Other values stay readable.
    CHECK_THAT(parse_error("postgresql://app@db.example:99999/app?sslmode=require"),
               Contains("?sslmode=require\""));
}
TEST_CASE("url: ambiguous user info is refused", "[url]") {
    // Read strictly, these are host "bob", port 1 and a query; read leniently, "1?x=..." is
    // a password with an unencoded '?'. Either way to_string() could show a password.
    for (std::string_view text :
         {"postgresql://bob:1?x=s3cretpw@h/db", "mysql://bob:1/db?x=s3cretpw@h/db",
          "postgresql://u:pw@h/db?application_name=me@host", "postgresql://h:5432/db?a=b@c"}) {
        INFO(text);
        REQUIRE_THROWS_AS(database_url::parse(text), url_error);
        REQUIRE_THROWS_WITH(database_url::parse(text), Contains("malformed or ambiguous"));
    }
    // Encoded, or with no ':' to start a password, an '@' in the query is fine.
    CHECK(database_url::parse("postgresql://u:pw@h/db?application_name=me%40host")
              .query()
              .at("application_name") == "me@host");
    CHECK(database_url::parse("postgresql://h/db?application_name=me@host")
              .query()
              .at("application_name") == "me@host");
    CHECK(database_url::parse("sqlite:///C:/data/a@b.db").database() == "C:/data/a@b.db");
}

TEST_CASE("url: to_string masks the password and re-encodes", "[url]") {
    const auto url =
        database_url::parse("postgresql://app:s3cretpw@127.0.0.1:5432/app?sslmode=disable");
    CHECK(url.to_string() == "postgresql://app:***@127.0.0.1:5432/app?sslmode=disable");
    CHECK_THAT(url.to_string(), !Contains("s3cretpw"));

    const auto odd = database_url::parse("mysql://a%20b%3Ac:x@h%5Fost/d%3Fb%2F");
    CHECK(odd.username() == "a b:c");
    CHECK(odd.host() == "h_ost");
    CHECK(odd.database() == "d?b/");
    CHECK(odd.to_string() == "mysql://a%20b%3Ac:***@h_ost/d%3Fb%2F");

    // to_string() parses back to the same URL, bar the password.
    for (std::string_view text :
         {"postgresql://me%40corp@db-host:1/my%20db?application_name=a%26b%3Dc",
          "postgres://u@[::1]:5432/db?sslmode=require", "sqlite:////tmp/my%20db%3F.db",
          "sqlite:///rel.db?journal_mode=wal", "sqlite://", "mysql://u@h/d%40x"}) {
        INFO(text);
        const auto parsed = database_url::parse(text);
        CHECK(database_url::parse(parsed.to_string()) == parsed);
    }
}

TEST_CASE("url: redact masks the password where settings are quoted, never free text", "[url]") {
    const auto url = database_url::parse("postgresql://bob:p%40ss%2Fword@h/db");
    REQUIRE(url.password() == std::optional<std::string>("p@ss/word"));
    CHECK(url.redact("bad conninfo: host='h' password='p@ss/word' dbname='db'") ==
          "bad conninfo: host='h' password=*** dbname='db'");
    CHECK(url.redact("postgresql://bob:p%40ss%2Fword@h/db and bob:p@ss/word@h") ==
          "postgresql://bob:***@h/db and bob:***@h");
    CHECK(url.redact("password=p@ss/word pass=p%40ss%2Fword") == "password=*** pass=***");
    CHECK(url.redact("nothing here") == "nothing here");
    CHECK(url.redact("") == "");

    // A password that is an English word, or the user name, masks nothing else.
    const auto word = database_url::parse("postgresql://failed:failed@h/db");
    CHECK(word.redact("FATAL: password authentication failed for user \"failed\"") ==
          "FATAL: password authentication failed for user \"failed\"");
    CHECK(word.redact("options: user='failed' password='failed'") ==
          "options: user='failed' password=***");

    // Quoting as the connect string does: ' and \ escaped.
    const auto quoted = database_url::parse("postgresql://u:it%27s@h/db");
    CHECK(quoted.redact("password='it\\'s'") == "password=***");

    // A secret query parameter (libpq's sslpassword) is as secret as the password.
    const auto query = database_url::parse("postgresql://u@h/db?sslpassword=hunter2&sslmode=off");
    CHECK(query.redact("sslpassword='hunter2' sslmode='off' hunter2") ==
          "sslpassword=*** sslmode='off' hunter2");

    CHECK(database_url::parse("postgresql://u@h/db").redact("u h db") == "u h db");
    CHECK(database_url::parse("postgresql://u:@h/db").redact("u h db") == "u h db");
    CHECK(database_url::parse("sqlite://").redact("anything") == "anything");
}

TEST_CASE("url: equality", "[url]") {
    CHECK(database_url::parse("postgresql://u:p@h/d") ==
          database_url::parse("postgresql://u:p@h/d"));
    CHECK_FALSE(database_url::parse("postgresql://h/d") == database_url::parse("postgres://h/d"));
    CHECK_FALSE(database_url::parse("sqlite:///a.db") == database_url::parse("sqlite:///b.db"));
}
