-- pollchat MySQL store, version 2: records, tombstones, per-user indexes.
-- ALTER TABLE is not idempotent in MySQL; the migration runner treats
-- "duplicate column" and "duplicate key name" as already applied, so a
-- migration cut short re-runs harmlessly.

-- Records (store.Records): the typed stores' values under (kind, k).
-- Binary strings: keys compare byte for byte (no trailing-space padding),
-- as in the embedded store. rev is the compare-and-swap revision; at is an
-- optional due time, indexed for DueRecords (kind = ? AND at BETWEEN 1 AND ?).
CREATE TABLE IF NOT EXISTS `{prefix}records` (
  `kind` VARBINARY(32) NOT NULL,
  `k` VARBINARY(700) NOT NULL,
  `val` MEDIUMBLOB NOT NULL,
  `rev` BIGINT NOT NULL,
  `at` BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (`kind`, `k`),
  KEY `kind_at` (`kind`, `at`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- A deleted message stays as a tombstone (history shows it as deleted).
ALTER TABLE `{prefix}messages` ADD COLUMN `deleted` TINYINT(1) NOT NULL DEFAULT 0;

-- A user's own messages (export and erasure: room messages they sent).
ALTER TABLE `{prefix}messages` ADD KEY `from_id` (`from_id`, `id`);

-- Who blocks a user, and the requests a user sent (export and erasure).
ALTER TABLE `{prefix}blocks` ADD KEY `other_id` (`other_id`);
ALTER TABLE `{prefix}requests` ADD KEY `from_id` (`from_id`);
