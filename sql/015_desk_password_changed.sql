-- A new password ends the sessions signed in before it (a stolen cookie dies with the reset).
ALTER TABLE desk_users ADD COLUMN password_changed_at timestamptz NOT NULL DEFAULT now();
