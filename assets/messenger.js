/* pollchat: placeholder, being written */
