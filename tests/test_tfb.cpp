// Integration tests of examples/tfb (tfb_server): the TechEmpower Framework Benchmarks
// rules, checked over real sockets against a database that `tfb_server --init` migrated
// and filled.
#include "example_support.hpp"
#include "support.hpp"

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>

#include <soci/soci.h>
#include <catch2/catch.hpp>

#include <map>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace {

constexpr int world_rows = 10000;

// A fresh TFB database (migrated and filled by --init) and tfb_server serving it on a
// free port, with the database API `db_api` (empty: the server's default).
class tfb_fixture {
public:
    explicit tfb_fixture(const std::string& db_api = "") {
        REQUIRE(test::run_process(TFB_SERVER, arguments({"--init"})) == 0);
        std::vector<std::string> serve{"--port", "0", "--io-threads", "2", "--pool-size", "4"};
        if (!db_api.empty())
            serve.insert(serve.end(), {"--db-api", db_api});
        server_.emplace(TFB_SERVER, arguments(serve));
    }

    unsigned short port() const { return server_->port(); }
    int stop() { return server_->stop(); }
    test::database& db() { return db_; }

    /// Every world row's random number, indexed by id (one query on a connection of the
    /// test's own).
    std::vector<int> stored_random_numbers() {
        std::vector<int> ids(world_rows);
        std::vector<int> random_numbers(world_rows);
        auto sql = db_.connect();
        *sql << "select id, randomnumber from world order by id", soci::into(ids),
            soci::into(random_numbers);
        REQUIRE(ids.size() == world_rows);
        std::vector<int> by_id(world_rows + 1);
        for (std::size_t i = 0; i < ids.size(); ++i)
            by_id.at(ids[i]) = random_numbers[i];
        return by_id;
    }

private:
    std::vector<std::string> arguments(std::vector<std::string> more) const {
        std::vector<std::string> args{"--database-url", db_.url()};
        args.insert(args.end(), more.begin(), more.end());
        return args;
    }

    test::database db_;
    std::optional<test::server_process> server_;
};

// Status 200 and the headers every TFB response must carry.
void check_tfb_response(const test::http_response& response, const std::string& content_type) {
    static const std::regex rfc7231_date{
        R"((Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT)"};
    CHECK(response.status == 200);
    CHECK(response.headers.at("server") == "asio-soci");
    CHECK(std::regex_match(response.headers.at("date"), rfc7231_date));
    CHECK(response.headers.at("content-type") == content_type);
    CHECK(response.headers.at("content-length") == std::to_string(response.body.size()));
}

// The (id, randomNumber) pairs of a /db object or a /queries and /updates array, checking
// that the body is exactly that JSON.
std::vector<std::pair<int, int>> world_rows_of(const std::string& body, bool array) {
    static const std::regex object{R"(\{"id":([0-9]+),"randomNumber":([0-9]+)\})"};
    std::vector<std::pair<int, int>> rows;
    std::string rebuilt;
    for (std::sregex_iterator it{body.begin(), body.end(), object}, end; it != end; ++it) {
        rows.emplace_back(std::stoi((*it)[1]), std::stoi((*it)[2]));
        rebuilt += (rebuilt.empty() ? "" : ",") + it->str();
    }
    CHECK(body == (array ? "[" + rebuilt + "]" : rebuilt));
    for (auto [id, random_number] : rows) {
        CHECK(id >= 1);
        CHECK(id <= world_rows);
        CHECK(random_number >= 1);
        CHECK(random_number <= world_rows);
    }
    return rows;
}

// The database APIs a test runs the server with: its default (zero-hop on PostgreSQL,
// as-future on SQLite), and on PostgreSQL as-future too, so that both paths keep the rules.
std::vector<std::string> db_apis() {
    if (test::backend_name() == "postgresql")
        return {"", "as-future"};
    return {""};
}

}  // namespace

TEST_CASE("tfb: --init migrates and fills the tables, /json and /plaintext carry the TFB headers",
          "[db][examples]") {
    tfb_fixture tfb;
    CHECK(tfb.db().scalar("select count(*) from asio_soci_migrations") == 2);
    CHECK(tfb.db().scalar("select count(*) from world") == world_rows);
    CHECK(tfb.db().scalar("select min(id) from world") == 1);
    CHECK(tfb.db().scalar("select max(id) from world") == world_rows);
    CHECK(tfb.db().scalar("select min(randomnumber) from world") >= 1);
    CHECK(tfb.db().scalar("select max(randomnumber) from world") <= world_rows);
    CHECK(tfb.db().scalar("select count(*) from fortune") == 12);
    // A second start finds the schema up to date and the table full: nothing changes.
    const auto random_numbers = tfb.stored_random_numbers();
    CHECK(test::run_process(TFB_SERVER, {"--database-url", tfb.db().url(), "--init"}) == 0);
    CHECK(tfb.stored_random_numbers() == random_numbers);
    CHECK(tfb.db().scalar("select count(*) from asio_soci_migrations") == 2);
    // The zero-hop API is PostgreSQL's: refused on SQLite, before anything starts.
    if (!tfb.db().is_postgresql())
        CHECK(test::run_process(TFB_SERVER, {"--database-url", tfb.db().url(), "--db-api",
                                             "zero-hop", "--init"}) != 0);

    auto json = test::http(tfb.port(), "GET", "/json");
    check_tfb_response(json, "application/json");
    CHECK(json.body == R"({"message":"Hello, World!"})");

    auto plaintext = test::http(tfb.port(), "GET", "/plaintext");
    check_tfb_response(plaintext, "text/plain");
    CHECK(plaintext.body == "Hello, World!");

    CHECK(test::http(tfb.port(), "GET", "/nothing/here").status == 404);
    CHECK(tfb.stop() == 0);
}

TEST_CASE("tfb: /db and /queries read random rows, queries clamped to 1..500", "[db][examples]") {
    const auto db_api = GENERATE(from_range(db_apis()));
    INFO("--db-api " << (db_api.empty() ? "(default)" : db_api));
    tfb_fixture tfb{db_api};
    const auto stored = tfb.stored_random_numbers();

    auto db = test::http(tfb.port(), "GET", "/db");
    check_tfb_response(db, "application/json");
    auto row = world_rows_of(db.body, false);
    REQUIRE(row.size() == 1);
    CHECK(row[0].second == stored.at(row[0].first));

    const std::map<std::string, std::size_t> expected_rows{
        {"/queries", 1},
        {"/queries?queries=", 1},
        {"/queries?queries=0", 1},
        {"/queries?queries=-3", 1},
        {"/queries?queries=foo", 1},
        {"/queries?queries=1", 1},
        {"/queries?queries=20", 20},
        {"/queries?queries=500", 500},
        {"/queries?queries=501", 500},
        {"/queries?queries=99999999999999999999", 500}};
    for (const auto& [target, count] : expected_rows) {
        INFO(target);
        auto response = test::http(tfb.port(), "GET", target);
        check_tfb_response(response, "application/json");
        auto rows = world_rows_of(response.body, true);
        CHECK(rows.size() == count);
        for (auto [id, random_number] : rows)
            CHECK(random_number == stored.at(id));
    }
    CHECK(tfb.stop() == 0);
}

TEST_CASE("tfb: /fortunes renders TFB's exact HTML, escaped and sorted", "[db][examples]") {
    const auto db_api = GENERATE(from_range(db_apis()));
    INFO("--db-api " << (db_api.empty() ? "(default)" : db_api));
    tfb_fixture tfb{db_api};
    auto response = test::http(tfb.port(), "GET", "/fortunes");
    check_tfb_response(response, "text/html; charset=utf-8");
    // Sorted by message (byte order), the request-time fortune (id 0) included.
    const std::string expected =
        "<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table>"
        "<tr><th>id</th><th>message</th></tr>"
        "<tr><td>11</td><td>&lt;script&gt;alert(&quot;This should not be displayed in a "
        "browser alert box.&quot;);&lt;/script&gt;</td></tr>"
        "<tr><td>4</td><td>A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, "
        "1</td></tr>"
        "<tr><td>5</td><td>A computer program does what you tell it to do, not what you want "
        "it to do.</td></tr>"
        "<tr><td>2</td><td>A computer scientist is someone who fixes things that aren&#39;t "
        "broken.</td></tr>"
        "<tr><td>8</td><td>A list is only as strong as its weakest link. \u2014 Donald "
        "Knuth</td></tr>"
        "<tr><td>0</td><td>Additional fortune added at request time.</td></tr>"
        "<tr><td>3</td><td>After enough decimal places, nobody gives a damn.</td></tr>"
        "<tr><td>7</td><td>Any program that runs right is obsolete.</td></tr>"
        "<tr><td>10</td><td>Computers make very fast, very accurate mistakes.</td></tr>"
        "<tr><td>6</td><td>Emacs is a nice operating system, but I prefer UNIX. \u2014 Tom "
        "Christaensen</td></tr>"
        "<tr><td>9</td><td>Feature: A bug with seniority.</td></tr>"
        "<tr><td>1</td><td>fortune: No such file or directory</td></tr>"
        "<tr><td>12</td><td>\u30d5\u30ec\u30fc\u30e0\u30ef\u30fc\u30af\u306e\u30d9\u30f3\u30c1"
        "\u30de\u30fc\u30af</td></tr>"
        "</table></body></html>";
    CHECK(response.body == expected);
    // The added fortune is added per response, never stored.
    CHECK(tfb.db().scalar("select count(*) from fortune") == 12);
    CHECK(test::http(tfb.port(), "GET", "/fortunes").body == expected);
    CHECK(tfb.stop() == 0);
}

TEST_CASE("tfb: /updates persists the random numbers it reports", "[db][examples]") {
    const auto db_api = GENERATE(from_range(db_apis()));
    INFO("--db-api " << (db_api.empty() ? "(default)" : db_api));
    tfb_fixture tfb{db_api};
    const auto before = tfb.stored_random_numbers();

    auto response = test::http(tfb.port(), "GET", "/updates?queries=20");
    check_tfb_response(response, "application/json");
    auto rows = world_rows_of(response.body, true);
    REQUIRE(rows.size() == 20);

    auto after = tfb.stored_random_numbers();
    std::set<int> updated;
    int changed = 0;
    for (auto [id, random_number] : rows) {
        CHECK(after.at(id) == random_number);  // reported == stored, committed
        updated.insert(id);
        changed += before.at(id) != random_number;
    }
    CHECK(updated.size() == rows.size());
    CHECK(changed > 0);  // each row keeps its number with probability 1/10000
    for (int id = 1; id <= world_rows; ++id) {
        if (!updated.contains(id) && before[id] != after[id])
            FAIL("row " << id << " changed but was not reported");
    }

    const std::map<std::string, std::size_t> expected_rows{{"/updates", 1},
                                                           {"/updates?queries=0", 1},
                                                           {"/updates?queries=foo", 1},
                                                           {"/updates?queries=501", 500}};
    for (const auto& [target, count] : expected_rows) {
        INFO(target);
        auto clamped = test::http(tfb.port(), "GET", target);
        check_tfb_response(clamped, "application/json");
        auto clamped_rows = world_rows_of(clamped.body, true);
        CHECK(clamped_rows.size() == count);
        auto stored = tfb.stored_random_numbers();
        for (auto [id, random_number] : clamped_rows)
            CHECK(stored.at(id) == random_number);
    }

    // Concurrent updates, possibly of the same rows, all succeed: no deadlock.
    asio::io_context io;
    std::vector<test::http_response> concurrent;
    for (int i = 0; i < 8; ++i) {
        asio::co_spawn(io, test::async_http(tfb.port(), "GET", "/updates?queries=50"),
                       [&](std::exception_ptr error, test::http_response reply) {
                           if (error)
                               std::rethrow_exception(error);
                           concurrent.push_back(std::move(reply));
                       });
    }
    io.run();
    REQUIRE(concurrent.size() == 8);
    for (const auto& reply : concurrent) {
        CHECK(reply.status == 200);
        CHECK(world_rows_of(reply.body, true).size() == 50);
    }
    CHECK(tfb.stop() == 0);
}
