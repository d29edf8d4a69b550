-- Embedded into the test binary by asio_soci_embed_migrations(); only loaded, never applied.
CREATE TABLE notes (id integer PRIMARY KEY, body varchar(200) NOT NULL DEFAULT 'a;b');
