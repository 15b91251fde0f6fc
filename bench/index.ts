/** Every benchmark module; importing this registers them all. */
import "./size";
import "./vm";
