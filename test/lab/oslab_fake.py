"""Fake virt drivers for the lab's Nova (loaded by test/lab/openstack.sh's nova-compute-lab).

nova.virt.fake.FakeDriver keeps servers in memory and never uploads snapshot data, so a
createImage image would stay `queued`; these subclasses upload a few bytes through Nova's image
API, and acknowledge the Nova-assisted snapshots that Cinder's NFS driver asks for on attached
volumes (Nova's update_snapshot_status reports progress 90%, which Cinder takes as done).
"""
import io

from nova.image import glance
from nova.virt import fake


class UploadingFakeDriver(fake.FakeDriver):
    def snapshot(self, context, instance, image_id, update_task_state):
        super().snapshot(context, instance, image_id, update_task_state)
        data = io.BytesIO(b'osbackup lab fake snapshot of instance %s\n' % instance.uuid.encode())
        glance.API().update(context, image_id, {'disk_format': 'raw', 'container_format': 'bare'}, data)


class AssistedSnapshotFakeDriver(UploadingFakeDriver):
    def volume_snapshot_create(self, context, instance, volume_id, create_info):
        from nova.volume import cinder
        cinder.API().update_snapshot_status(context, create_info['snapshot_id'], 'creating')

    def volume_snapshot_delete(self, context, instance, volume_id, snapshot_id, delete_info):
        from nova.volume import cinder
        cinder.API().update_snapshot_status(context, snapshot_id, 'deleting')
