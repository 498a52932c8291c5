#!/usr/bin/env bash
# Emits the SQL that fills the lab schemas. $1 = nova.instances rows (the size knob; ~1.3 KB a row);
# the other tables scale from it. Batches of 100k rows keep each statement's undo small.
set -euo pipefail
n=${1:?rows}
batch=100000
echo "SET SESSION sql_log_bin=0;"
projects=$(( n / 40 + 10 ))
echo "INSERT INTO keystone.project SELECT md5(concat('p',seq)), concat('project-',seq), '{}', concat('Project ',seq,' of team ',seq%97), 1, 'default', NULL, 0 FROM seq_1_to_${projects};"
echo "INSERT INTO keystone.user SELECT md5(concat('u',seq)), concat('{\"email\": \"user',seq,'@example.org\"}'), 1, md5(concat('p',1+seq%${projects})), now() - interval seq minute, curdate(), 'default' FROM seq_1_to_$(( n / 20 + 10 ));"
for ((lo = 1; lo <= n; lo += batch)); do
  hi=$(( lo + batch - 1 < n ? lo + batch - 1 : n ))
  cat <<SQL
INSERT INTO nova.instances (created_at,updated_at,user_id,project_id,image_ref,launch_index,key_name,power_state,vm_state,memory_mb,vcpus,hostname,host,user_data,reservation_id,launched_at,display_name,availability_zone,locked,launched_on,instance_type_id,uuid,architecture,root_device_name,access_ip_v4,task_state,progress,root_gb,ephemeral_gb,node,deleted,cleaned,hidden)
SELECT now() - interval seq minute, now(), md5(seq%5000), md5(concat('p',1+seq%${projects})), md5(concat('img',seq%50)), 0, concat('key-',seq%300), 1, ELT(1+seq%4,'active','stopped','error','building'),
 ELT(1+seq%5,512,1024,2048,4096,8192), 1+seq%8, concat('vm-',seq), concat('compute-',seq%64), to_base64(concat(sha2(concat('a',seq),512),sha2(concat('b',seq),512),repeat('#cloud-config\npackages: [nginx]\n',8))), concat('r-',md5(seq)),
 now(), concat('instance ',seq), 'nova', 0, concat('compute-',seq%64), 1+seq%10, concat(substr(md5(seq),1,8),'-',substr(md5(seq),9,4),'-',substr(md5(seq),13,4),'-',substr(md5(seq),17,4),'-',substr(md5(seq),21,12)), 'x86_64', '/dev/vda', concat('10.',seq%250,'.',seq%200,'.',seq%199), NULL, 100, 20, 0, concat('compute-',seq%64,'.example.org'), 0, 0, 0
FROM seq_${lo}_to_${hi};
SQL
done
echo "INSERT INTO cinder.volumes SELECT now(), now(), NULL, 0, md5(concat('v',seq)), NULL, md5(seq%5000), md5(concat('p',1+seq%${projects})), 'ctl1@lvm#lvm', 1+seq%500, 'nova', ELT(1+seq%3,'in-use','available','in-use'), ELT(1+seq%3,'attached','detached','attached'), concat('volume-',seq), NULL, NULL, md5('lvm'), seq%2, 0 FROM seq_1_to_$(( n / 4 + 10 ));"
echo "INSERT INTO glance.images SELECT md5(concat('img',seq)), concat('image-',seq), 1048576*(seq%4096), 'active', now(), now(), NULL, 0, 'qcow2', 'bare', md5(concat('c',seq)), md5(concat('p',1+seq%${projects})), 0, 0, 0, NULL, ELT(1+seq%2,'public','private'), 0, 'sha512', sha2(concat('h',seq),512) FROM seq_1_to_$(( n / 100 + 50 ));"
echo "INSERT INTO neutron.ports SELECT md5(concat('p',1+seq%${projects})), md5(concat('port',seq)), '', md5(concat('net',seq%100)), concat('fa:16:3e:',lpad(hex(seq div 65536 % 256),2,'0'),':',lpad(hex(seq div 256 % 256),2,'0'),':',lpad(hex(seq%256),2,'0')), 1, 'ACTIVE', md5(concat('dev',seq)), 'compute:nova', seq, 'immediate' FROM seq_1_to_$(( n / 2 + 10 ));"
