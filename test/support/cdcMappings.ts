/**
 * The CDC mapping the tests share: AWS DMS tables of a CRM (`crm.customers`) and a device registry
 * (`iot.devices`, feeding devices and their site assignments, with `moved_at` as the assignment's
 * start), and a MongoDB `sites` collection (sites, and their customer assignments).
 */
import { cdcDecodeConfigSchema } from '../../operators/cdc/mapping.ts';

/** The mapping, validated as a worker's `source.cdc.decode` section would be. */
export const CDC_MAPPINGS = cdcDecodeConfigSchema.parse({
  mappings: [
    {
      source: { kind: 'dms', schema: 'crm', table: 'customers' },
      entity: 'customer',
      key: 'id',
      fields: { name: 'name' },
    },
    {
      source: { kind: 'dms', schema: 'iot', table: 'devices' },
      entity: 'device',
      key: 'device_id',
      fields: { product_id: 'product', hub_id: 'hub' },
    },
    {
      source: { kind: 'dms', schema: 'iot', table: 'devices' },
      entity: 'device-assignment',
      key: 'device_id',
      fields: { site_id: 'site' },
      validFrom: 'moved_at',
    },
    {
      source: { kind: 'mongo', db: 'fm', collection: 'sites' },
      entity: 'site',
      fields: { name: 'name', timezone: 'geo.tz' },
    },
    {
      source: { kind: 'mongo', collection: 'sites' },
      entity: 'site-assignment',
      fields: { customer_id: 'owner' },
    },
  ],
});
