// A PostgreSQL cluster of a test's own, for tests that stop or restart the server and
// must not disturb the shared one named by ASIO_SOCI_TEST_POSTGRESQL_URL.
#pragma once

#include <string>

namespace test {

class private_postgres {
public:
    /// initdb in a temporary directory and start on a free loopback port. Binaries from
    /// ASIO_SOCI_TEST_PGBIN (set by scripts/test), else PostgreSQL 15's default place.
    /// As root, runs the server as the `postgres` user (it refuses root).
    private_postgres();
    ~private_postgres();
    private_postgres(const private_postgres&) = delete;
    private_postgres& operator=(const private_postgres&) = delete;

    /// postgresql://postgres:<password>@127.0.0.1:<port>/postgres?<parameters>
    std::string url(const std::string& password = "", const std::string& parameters = "") const;
    unsigned short port() const { return port_; }

    void stop();     // pg_ctl stop -m fast, waits
    void start();    // pg_ctl start, waits until it accepts connections
    void restart();  // pg_ctl restart -m fast, waits

private:
    void pg_ctl(const std::string& arguments);

    std::string bin_;
    std::string dir_;
    unsigned short port_ = 0;
};

}  // namespace test
