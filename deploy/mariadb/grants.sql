-- Local development only (compose.yaml). The image creates the user `shortener`
-- from MARIADB_USER/MARIADB_PASSWORD; this lets it create and migrate the
-- services' own databases (shortener_link, shortener_identity) on first start,
-- as the services do with any MySQL they are given.
GRANT ALL PRIVILEGES ON `shortener\_%`.* TO 'shortener'@'%';
