#include "pg_aborting_error.hpp"

#include <soci/postgresql/soci-postgresql.h>

#include <libpq-events.h>
#include <libpq-fe.h>

#include <cstring>
#include <new>
#include <string>

namespace asio_soci::detail {

namespace {

struct remembered_error {
    bool present = false;
    char sqlstate[6] = "XX000";
    std::string message;
};

int on_event(PGEventId id, void* info, void* /*pass_through*/) {
    switch (id) {
        case PGEVT_REGISTER: {
            auto* event = static_cast<PGEventRegister*>(info);
            auto* memory = new (std::nothrow) remembered_error;
            if (memory && PQsetInstanceData(event->conn, on_event, memory))
                return 1;
            delete memory;
            return 0;
        }
        case PGEVT_CONNDESTROY: {
            auto* event = static_cast<PGEventConnDestroy*>(info);
            delete static_cast<remembered_error*>(PQinstanceData(event->conn, on_event));
            return 1;
        }
        case PGEVT_RESULTCREATE: {
            auto* event = static_cast<PGEventResultCreate*>(info);
            auto* memory = static_cast<remembered_error*>(PQinstanceData(event->conn, on_event));
            if (!memory)
                return 1;
            switch (PQresultStatus(event->result)) {
                case PGRES_COMMAND_OK:
                case PGRES_TUPLES_OK:
                case PGRES_SINGLE_TUPLE:
                    memory->present = false;
                    break;
                case PGRES_FATAL_ERROR:
                    if (memory->present)
                        break;  // "current transaction is aborted", or a later failure
                    try {
                        memory->message = PQresultErrorMessage(event->result);
                    } catch (const std::bad_alloc&) {
                        break;  // forgetting costs only the diagnosis
                    }
                    while (!memory->message.empty() && memory->message.back() == '\n')
                        memory->message.pop_back();
                    std::strcpy(memory->sqlstate, "XX000");
                    if (const char* state = PQresultErrorField(event->result, PG_DIAG_SQLSTATE);
                        state && std::strlen(state) == 5)
                        std::memcpy(memory->sqlstate, state, 5);
                    memory->present = true;
                    break;
                default:
                    break;
            }
            return 1;
        }
        default:
            return 1;
    }
}

}  // namespace

bool remember_aborting_errors(pg_conn* conn) noexcept {
    return PQregisterEventProc(conn, on_event, "asio_soci aborting error", nullptr) != 0;
}

std::exception_ptr aborting_error(const pg_conn* conn) {
    const auto* memory = static_cast<const remembered_error*>(PQinstanceData(conn, on_event));
    if (!memory || !memory->present)
        return nullptr;
    return std::make_exception_ptr(soci::postgresql_soci_error(memory->message, memory->sqlstate));
}

}  // namespace asio_soci::detail
