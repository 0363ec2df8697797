-- pollchat MySQL store, version 1. {prefix} is store.table_prefix.
-- Every table is utf8mb4 with a binary collation: user ids, client ids and
-- room names compare byte for byte (emoji ids, "A" != "a"), and text keeps
-- 4-byte UTF-8. Statements are idempotent (IF NOT EXISTS): DDL is not
-- transactional, so a migration cut short re-runs harmlessly.

-- Messages. conv is the conversation key ("d:a,b" or "r:room").
-- conv_id serves history pages (conv = ? AND id < ? ORDER BY id DESC) and
-- unread counts (conv = ? AND id > ?, from_id read from the index itself).
CREATE TABLE IF NOT EXISTS `{prefix}messages` (
  `id` BIGINT NOT NULL AUTO_INCREMENT,
  `conv` VARCHAR(160) NOT NULL,
  `from_id` VARCHAR(64) NOT NULL DEFAULT '',
  `to_id` VARCHAR(64) NOT NULL DEFAULT '',
  `room` VARCHAR(64) NOT NULL DEFAULT '',
  `text` TEXT NOT NULL,
  `ts` DATETIME(6) NOT NULL,
  `client_id` VARCHAR(255) NOT NULL DEFAULT '',
  `is_system` TINYINT(1) NOT NULL DEFAULT 0,
  `data` MEDIUMBLOB NULL,
  PRIMARY KEY (`id`),
  KEY `conv_id` (`conv`, `id`, `from_id`),
  KEY `ts` (`ts`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- A user's direct conversations with the id of the newest message:
-- the conversation list is one index range (user_id = ? ORDER BY last_id DESC).
CREATE TABLE IF NOT EXISTS `{prefix}user_convs` (
  `user_id` VARCHAR(64) NOT NULL,
  `conv` VARCHAR(160) NOT NULL,
  `last_id` BIGINT NOT NULL,
  PRIMARY KEY (`user_id`, `conv`),
  KEY `user_last` (`user_id`, `last_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Read marks; they only move forward (GREATEST on update).
CREATE TABLE IF NOT EXISTS `{prefix}reads` (
  `user_id` VARCHAR(64) NOT NULL,
  `conv` VARCHAR(160) NOT NULL,
  `upto` BIGINT NOT NULL,
  PRIMARY KEY (`user_id`, `conv`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The client_id dedup window: the primary key makes two concurrent
-- identical sends (from any process) one message.
CREATE TABLE IF NOT EXISTS `{prefix}dedup` (
  `from_id` VARCHAR(64) NOT NULL,
  `client_id` VARCHAR(255) NOT NULL,
  `msg_id` BIGINT NOT NULL,
  `created_at` DATETIME(6) NOT NULL,
  PRIMARY KEY (`from_id`, `client_id`),
  KEY `created_at` (`created_at`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Pending chat requests: one per (recipient, sender), listed oldest first.
CREATE TABLE IF NOT EXISTS `{prefix}requests` (
  `to_id` VARCHAR(64) NOT NULL,
  `from_id` VARCHAR(64) NOT NULL,
  `text` TEXT NOT NULL,
  `ts` DATETIME(6) NOT NULL,
  PRIMARY KEY (`to_id`, `from_id`),
  KEY `to_ts` (`to_id`, `ts`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS `{prefix}mutes` (
  `room` VARCHAR(64) NOT NULL,
  `user_id` VARCHAR(64) NOT NULL,
  `mins` INT NOT NULL,
  `expires_at` DATETIME(6) NOT NULL,
  `by_id` VARCHAR(64) NOT NULL DEFAULT '',
  PRIMARY KEY (`room`, `user_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS `{prefix}blocks` (
  `user_id` VARCHAR(64) NOT NULL,
  `other_id` VARCHAR(64) NOT NULL,
  PRIMARY KEY (`user_id`, `other_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
