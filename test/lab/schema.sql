-- A slice of the OpenStack schemas, shaped like the real ones (Zed), for the lab's ctl1.
SET SESSION sql_log_bin=0;
CREATE DATABASE IF NOT EXISTS keystone; CREATE DATABASE IF NOT EXISTS nova;
CREATE DATABASE IF NOT EXISTS cinder; CREATE DATABASE IF NOT EXISTS glance; CREATE DATABASE IF NOT EXISTS neutron;
CREATE TABLE keystone.project (
  id varchar(64) NOT NULL PRIMARY KEY, name varchar(64) NOT NULL, extra text, description text,
  enabled tinyint(1) DEFAULT NULL, domain_id varchar(64) NOT NULL, parent_id varchar(64) DEFAULT NULL,
  is_domain tinyint(1) NOT NULL DEFAULT 0, UNIQUE KEY ixu_project_name_domain_id (domain_id,name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3;
CREATE TABLE keystone.user (
  id varchar(64) NOT NULL PRIMARY KEY, extra text, enabled tinyint(1) DEFAULT NULL,
  default_project_id varchar(64) DEFAULT NULL, created_at datetime DEFAULT NULL, last_active_at date DEFAULT NULL,
  domain_id varchar(64) NOT NULL, UNIQUE KEY ixu_user_id_domain_id (id,domain_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3;
CREATE TABLE nova.instances (
  created_at datetime DEFAULT NULL, updated_at datetime DEFAULT NULL, deleted_at datetime DEFAULT NULL,
  id int(11) NOT NULL AUTO_INCREMENT PRIMARY KEY, user_id varchar(255), project_id varchar(255),
  image_ref varchar(255), launch_index int(11), key_name varchar(255), power_state int(11), vm_state varchar(255),
  memory_mb int(11), vcpus int(11), hostname varchar(255), host varchar(255), user_data mediumtext,
  reservation_id varchar(255), launched_at datetime, display_name varchar(255), availability_zone varchar(255),
  locked tinyint(1), launched_on mediumtext, instance_type_id int(11), uuid varchar(36) NOT NULL,
  architecture varchar(255), root_device_name varchar(255), access_ip_v4 varchar(39), task_state varchar(255),
  progress int(11), root_gb int(11), ephemeral_gb int(11), node varchar(255), deleted int(11),
  cleaned int(11), hidden tinyint(1),
  UNIQUE KEY uniq_instances0uuid (uuid), KEY instances_project_id_deleted_idx (project_id,deleted),
  KEY instances_host_deleted_cleaned_idx (host,deleted,cleaned)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3;
CREATE TABLE cinder.volumes (
  created_at datetime, updated_at datetime, deleted_at datetime, deleted tinyint(1), id varchar(36) NOT NULL PRIMARY KEY,
  ec2_id varchar(255), user_id varchar(255), project_id varchar(255), host varchar(255), size int(11),
  availability_zone varchar(255), status varchar(255), attach_status varchar(255), display_name varchar(255),
  display_description varchar(255), provider_location varchar(256), volume_type_id varchar(36), bootable tinyint(1),
  multiattach tinyint(1), KEY volumes_service_uuid_idx (deleted, host)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3;
CREATE TABLE glance.images (
  id varchar(36) NOT NULL PRIMARY KEY, name varchar(255), size bigint(20), status varchar(30) NOT NULL,
  created_at datetime NOT NULL, updated_at datetime, deleted_at datetime, deleted tinyint(1) NOT NULL,
  disk_format varchar(20), container_format varchar(20), checksum varchar(32), owner varchar(255),
  min_disk int(11) NOT NULL, min_ram int(11) NOT NULL, protected tinyint(1) NOT NULL DEFAULT 0,
  virtual_size bigint(20), visibility enum('private','public','shared','community') NOT NULL DEFAULT 'shared',
  os_hidden tinyint(1) NOT NULL DEFAULT 0, os_hash_algo varchar(64), os_hash_value varchar(128)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3;
CREATE TABLE neutron.ports (
  project_id varchar(255), id varchar(36) NOT NULL PRIMARY KEY, name varchar(255), network_id varchar(36) NOT NULL,
  mac_address varchar(32) NOT NULL, admin_state_up tinyint(1) NOT NULL, status varchar(16) NOT NULL,
  device_id varchar(255) NOT NULL, device_owner varchar(255) NOT NULL, standard_attr_id bigint(20) NOT NULL,
  ip_allocation varchar(16), UNIQUE KEY uniq_ports0network_id0mac_address (network_id,mac_address)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3;
