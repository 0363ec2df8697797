-- pollchat MySQL store, version 3: the bytes of attachments (issue 17).
-- Several processes share the MySQL store, so they keep files there too:
-- every process reads what another wrote, one backup holds everything.
-- A file is cut in chunks of at most 1 MiB (seq 0, 1, …) so no row
-- comes near max_allowed_packet; a file's chunks are written in one
-- transaction, so a reader sees all of them or none.
CREATE TABLE IF NOT EXISTS `{prefix}blobs` (
  `id` VARBINARY(64) NOT NULL,
  `seq` INT NOT NULL,
  `data` MEDIUMBLOB NOT NULL,
  `created` DATETIME(6) NOT NULL,
  PRIMARY KEY (`id`, `seq`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
