/** Every benchmark module; importing this registers them all. */
import "./dissemination";
import "./size";
import "./vm";
import "./sim";
import "./c";
import "./fuzz";
