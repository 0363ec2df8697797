-- An OctoberCMS 3 site with RainLab.User 3.x: the users table as its
-- migrations leave it (first_name + last_name, banned_at, deleted_at),
-- avatars in October's system_files.
CREATE TABLE `users` (
  `id` bigint unsigned NOT NULL AUTO_INCREMENT,
  `is_guest` tinyint(1) NOT NULL DEFAULT 0,
  `is_mail_blocked` tinyint(1) NOT NULL DEFAULT 0,
  `first_name` varchar(255) DEFAULT NULL,
  `last_name` varchar(255) DEFAULT NULL,
  `username` varchar(255) DEFAULT NULL,
  `email` varchar(255) NOT NULL,
  `notes` mediumtext,
  `password` varchar(255) NOT NULL,
  `activation_code` varchar(255) DEFAULT NULL,
  `persist_code` varchar(255) DEFAULT NULL,
  `remember_token` varchar(255) DEFAULT NULL,
  `two_factor_secret` text,
  `two_factor_recovery_codes` text,
  `primary_group_id` bigint unsigned DEFAULT NULL,
  `created_ip_address` varchar(255) DEFAULT NULL,
  `last_ip_address` varchar(255) DEFAULT NULL,
  `banned_reason` text,
  `banned_at` timestamp NULL DEFAULT NULL,
  `activated_at` timestamp NULL DEFAULT NULL,
  `two_factor_confirmed_at` timestamp NULL DEFAULT NULL,
  `last_seen` timestamp NULL DEFAULT NULL,
  `deleted_at` timestamp NULL DEFAULT NULL,
  `created_at` timestamp NULL DEFAULT NULL,
  `updated_at` timestamp NULL DEFAULT NULL,
  PRIMARY KEY (`id`),
  KEY `users_username_index` (`username`),
  KEY `users_activation_code_index` (`activation_code`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE `system_files` (
  `id` int unsigned NOT NULL AUTO_INCREMENT,
  `disk_name` varchar(255) NOT NULL,
  `file_name` varchar(255) NOT NULL,
  `file_size` int NOT NULL,
  `content_type` varchar(255) NOT NULL,
  `title` varchar(255) DEFAULT NULL,
  `description` text,
  `field` varchar(255) DEFAULT NULL,
  `attachment_id` varchar(255) DEFAULT NULL,
  `attachment_type` varchar(255) DEFAULT NULL,
  `is_public` tinyint(1) NOT NULL DEFAULT 1,
  `sort_order` int DEFAULT NULL,
  `created_at` timestamp NULL DEFAULT NULL,
  `updated_at` timestamp NULL DEFAULT NULL,
  PRIMARY KEY (`id`),
  KEY `system_files_field_index` (`field`),
  KEY `system_files_attachment_id_index` (`attachment_id`),
  KEY `system_files_attachment_type_index` (`attachment_type`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

INSERT INTO `users` (`id`, `first_name`, `last_name`, `username`, `email`, `password`, `activated_at`, `created_at`) VALUES
  (1, 'Olga', 'Petrova', 'olga', 'Olga@Example.com', 'x', NOW(), NOW()),
  (2, 'Ivan', NULL, 'ivan', 'ivan@example.com', 'x', NOW(), NOW()),
  (3, 'Banned', 'User', 'banned', 'banned@example.com', 'x', NOW(), NOW()),
  (4, 'Deleted', 'User', 'deleted', 'deleted@example.com', 'x', NOW(), NOW()),
  (5, '<script>alert(1)</script>', '', 'xss', 'xss@example.com', 'x', NOW(), NOW()),
  (6, NULL, NULL, 'nameless', 'nameless@example.com', 'x', NOW(), NOW());

UPDATE `users` SET `banned_at` = NOW(), `banned_reason` = 'spam' WHERE `id` = 3;

UPDATE `users` SET `deleted_at` = NOW() WHERE `id` = 4;

INSERT INTO `system_files` (`disk_name`, `file_name`, `file_size`, `content_type`, `field`, `attachment_id`, `attachment_type`, `is_public`, `created_at`) VALUES
  ('5f0c2a7b1e9d3845612345.jpg', 'olga-old.jpg', 1000, 'image/jpeg', 'avatar', '1', 'RainLab\\User\\Models\\User', 1, NOW()),
  ('64a1b2c3d4e5f6a7b8c9d0.png', 'olga.png', 1200, 'image/png', 'avatar', '1', 'RainLab\\User\\Models\\User', 1, NOW()),
  ('0000aaaabbbbccccdddd00.jpg', 'post.jpg', 900, 'image/jpeg', 'featured_images', '2', 'RainLab\\Blog\\Models\\Post', 1, NOW());
