-- Indexes that a later, longer index covers by its leading columns: every query they answered,
-- the longer one answers, and each synced row has one B-tree fewer to update.
-- credentials_app (app_id, tenant, end_at) covers credentials_app_id (app_id).
DROP INDEX credentials_app_id;
-- applications_list (tenant, display_name, id, deleted_at, app_id) covers applications_name
-- (tenant, display_name, id).
DROP INDEX applications_name;
