"""PayLater: the domain, data and local stack behind the Chalice routes in app.py."""
