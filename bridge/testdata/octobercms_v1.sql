-- An OctoberCMS site with RainLab.User 1.x: the users table as its
-- migrations leave it (name + surname, username, deleted_at, is_guest),
-- bans in user_throttle, avatars in October's system_files.
CREATE TABLE `users` (
  `id` int unsigned NOT NULL AUTO_INCREMENT,
  `name` varchar(255) DEFAULT NULL,
  `email` varchar(255) NOT NULL,
  `password` varchar(255) NOT NULL,
  `activation_code` varchar(255) DEFAULT NULL,
  `persist_code` varchar(255) DEFAULT NULL,
  `reset_password_code` varchar(255) DEFAULT NULL,
  `permissions` text,
  `is_activated` tinyint(1) NOT NULL DEFAULT 0,
  `activated_at` timestamp NULL DEFAULT NULL,
  `last_login` timestamp NULL DEFAULT NULL,
  `created_at` timestamp NULL DEFAULT NULL,
  `updated_at` timestamp NULL DEFAULT NULL,
  `username` varchar(255) DEFAULT NULL,
  `surname` varchar(255) DEFAULT NULL,
  `deleted_at` timestamp NULL DEFAULT NULL,
  `last_seen` timestamp NULL DEFAULT NULL,
  `is_guest` tinyint(1) NOT NULL DEFAULT 0,
  `is_superuser` tinyint(1) NOT NULL DEFAULT 0,
  `created_ip_address` varchar(255) DEFAULT NULL,
  `last_ip_address` varchar(255) DEFAULT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `users_email_unique` (`email`),
  KEY `users_activation_code_index` (`activation_code`),
  KEY `users_reset_password_code_index` (`reset_password_code`),
  KEY `users_login_index` (`username`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE `user_throttle` (
  `id` int unsigned NOT NULL AUTO_INCREMENT,
  `user_id` int unsigned DEFAULT NULL,
  `ip_address` varchar(255) DEFAULT NULL,
  `attempts` int NOT NULL DEFAULT 0,
  `last_attempt_at` timestamp NULL DEFAULT NULL,
  `is_suspended` tinyint(1) NOT NULL DEFAULT 0,
  `suspended_at` timestamp NULL DEFAULT NULL,
  `is_banned` tinyint(1) NOT NULL DEFAULT 0,
  `banned_at` timestamp NULL DEFAULT NULL,
  PRIMARY KEY (`id`),
  KEY `user_throttle_user_id_index` (`user_id`),
  KEY `user_throttle_ip_address_index` (`ip_address`)
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

INSERT INTO `users` (`id`, `name`, `surname`, `username`, `email`, `password`, `is_activated`, `created_at`) VALUES
  (1, 'Olga', 'Petrova', 'olga', 'Olga@Example.com', 'x', 1, NOW()),
  (2, 'Ivan', NULL, 'ivan', 'ivan@example.com', 'x', 1, NOW()),
  (3, 'Banned', 'User', 'banned', 'banned@example.com', 'x', 1, NOW()),
  (4, 'Deleted', 'User', 'deleted', 'deleted@example.com', 'x', 1, NOW()),
  (5, '<script>alert(1)</script>', '', 'xss', 'xss@example.com', 'x', 1, NOW()),
  (6, NULL, NULL, 'nameless', 'nameless@example.com', 'x', 1, NOW());

UPDATE `users` SET `deleted_at` = NOW() WHERE `id` = 4;

INSERT INTO `user_throttle` (`user_id`, `ip_address`, `is_banned`, `banned_at`) VALUES
  (3, '203.0.113.7', 1, NOW()),
  (1, '203.0.113.8', 0, NULL);

INSERT INTO `system_files` (`disk_name`, `file_name`, `file_size`, `content_type`, `field`, `attachment_id`, `attachment_type`, `is_public`, `created_at`) VALUES
  ('5f0c2a7b1e9d3845612345.jpg', 'olga-old.jpg', 1000, 'image/jpeg', 'avatar', '1', 'RainLab\\User\\Models\\User', 1, NOW()),
  ('64a1b2c3d4e5f6a7b8c9d0.png', 'olga.png', 1200, 'image/png', 'avatar', '1', 'RainLab\\User\\Models\\User', 1, NOW()),
  ('0000aaaabbbbccccdddd00.jpg', 'post.jpg', 900, 'image/jpeg', 'featured_images', '2', 'RainLab\\Blog\\Models\\Post', 1, NOW());
