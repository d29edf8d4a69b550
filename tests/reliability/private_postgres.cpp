#include "private_postgres.hpp"

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include <unistd.h>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace test {

namespace {

void run(const std::string& command) {
    if (std::system(command.c_str()) != 0)
        throw std::runtime_error("command failed: " + command);
}

// As root, commands run as the postgres user, who owns the cluster's directory.
std::string as_owner(const std::string& command) {
    return ::geteuid() == 0 ? "runuser -u postgres -- " + command : command;
}

unsigned short free_loopback_port() {
    asio::io_context io;
    asio::ip::tcp::acceptor acceptor{io, {asio::ip::make_address("127.0.0.1"), 0}};
    return acceptor.local_endpoint().port();
}

}  // namespace

private_postgres::private_postgres() {
    const char* bin = std::getenv("ASIO_SOCI_TEST_PGBIN");
    bin_ = bin && *bin ? bin : "/usr/lib/postgresql/15/bin";
    char pattern[] = "/tmp/asio-soci-private-pg.XXXXXX";
    if (!::mkdtemp(pattern))
        throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
    if (::geteuid() == 0)
        run("chown postgres: " + dir_);
    run(as_owner(bin_ + "/initdb -D " + dir_ + "/data -A trust --username=postgres -E UTF8 " +
                 "--locale=C --no-sync > " + dir_ + "/initdb.log 2>&1"));
    port_ = free_loopback_port();
    std::ofstream conf{dir_ + "/data/postgresql.conf", std::ios::app};
    conf << "listen_addresses = '127.0.0.1'\nport = " << port_ << "\nunix_socket_directories = '"
         << dir_ << "'\nfsync = off\n";
    conf.close();
    start();
}

private_postgres::~private_postgres() {
    std::system(
        as_owner(bin_ + "/pg_ctl stop -D " + dir_ + "/data -m immediate -w > /dev/null 2>&1")
            .c_str());
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
}

std::string private_postgres::url(const std::string& password,
                                  const std::string& parameters) const {
    return "postgresql://postgres" + (password.empty() ? "" : ":" + password) +
           "@127.0.0.1:" + std::to_string(port_) + "/postgres" +
           (parameters.empty() ? "" : "?" + parameters);
}

void private_postgres::pg_ctl(const std::string& arguments) {
    run(as_owner(bin_ + "/pg_ctl " + arguments + " -D " + dir_ + "/data -w -t 60 -l " + dir_ +
                 "/postgres.log > /dev/null 2>&1"));
}

void private_postgres::stop() {
    pg_ctl("stop -m fast");
}
void private_postgres::start() {
    pg_ctl("start");
}
void private_postgres::restart() {
    pg_ctl("restart -m fast");
}

}  // namespace test
