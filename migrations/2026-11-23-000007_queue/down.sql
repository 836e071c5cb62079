DROP TABLE queue_entries, queue_tickets;
