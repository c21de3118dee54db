# First start of the dev Postgres: the official image's entrypoint sources this file from
# /docker-entrypoint-initdb.d (under its own `set -e`). It creates the two roles of
# docs/operations.md ("Database roles") and the database, owned by mf_owner.
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v owner_password="$MF_OWNER_PASSWORD" -v app_password="$MF_APP_PASSWORD" <<'SQL'
CREATE ROLE mf_owner LOGIN PASSWORD :'owner_password';
CREATE ROLE mf_app LOGIN NOSUPERUSER NOBYPASSRLS PASSWORD :'app_password';
CREATE DATABASE metafuse OWNER mf_owner;
SQL
