"""The sales desk: a small server-side web app where sales reps review, edit, approve and send quote drafts.

:func:`rfq_pipeline.desk.app.create_app` builds the Flask app (``rfq-pipeline desk serve`` runs it under waitress);
:func:`rfq_pipeline.desk.links.mint_link` makes the signed single-use links the Slack messages carry. Nothing is
imported here, so a sensor that only mints links does not load Flask.
"""
